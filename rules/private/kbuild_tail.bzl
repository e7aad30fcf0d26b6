"""The Kbuild hand-off: Kbuild's own rules run after vmlinux.o.

What Kbuild does after vmlinux.o (link-vmlinux.sh, the boot image) is short,
serial and architecture-specific.  Nothing of it is re-implemented: one
action runs `make GOALS` in a writable copy of the translated object tree,
with the Bazel-built files placed in it (rules/private/kbuild_tail.sh).  The
translation leaves that tree as Kbuild would with the real tools (its saved
commands name them), so Kbuild's own if_changed rules find nothing before
the placed files to redo.  The actions declare the object tree and the
source files Kbuild reads for these steps, run sandboxed and locally, and
are cached like every other action.  (The modules' steps after their links
run Kbuild's commands one by one instead: modules.bzl.)
"""

load(":common.bzl", "TOOLCHAIN_TYPE", "kernel_root", "llvm_toolchain")
load(":contract.bzl", "MNEMONIC")

# The attributes of every rule whose action is a Kbuild hand-off.
KBUILD_TAIL_ATTRS = {
    "arch": attr.string(mandatory = True, doc = "Kernel ARCH."),
    "build_env": attr.string_dict(doc = "KBUILD_BUILD_* as the translation pinned them."),
    "objtree": attr.label_list(allow_files = True, doc = "The translated object tree."),
    "srcarch": attr.string(mandatory = True, doc = "Kbuild's SRCARCH (the directory under arch/)."),
    "srcs": attr.label_list(allow_files = True, doc = "Source files Kbuild reads for these steps."),
    "_kbuild_tail": attr.label(default = "//rules/private:kbuild_tail.sh", allow_single_file = True, executable = True, cfg = "exec"),
}

def kbuild_tail(ctx, goals, places, takes, what):
    """Emits one Kbuild hand-off action: `make GOALS` on the translated tree.

    Args:
      ctx: the context of a rule with KBUILD_TAIL_ATTRS and the LLVM toolchain.
      goals: make's goals, made in one run, in order.
      places: list of (objtree-relative path, File): put in the tree, newer
        than everything in it, before make runs.
      takes: list of (objtree-relative path, File): copied out after.
      what: the progress message.
    """
    tc = llvm_toolchain(ctx)
    root = kernel_root(ctx)
    outputs = [f for _, f in takes]
    args = ctx.actions.args()
    args.add(root + "/src")
    args.add(root + "/obj")
    args.add(ctx.attr.arch)
    args.add(ctx.attr.srcarch)
    args.add("-" + tc.version)
    args.add(" ".join(goals))
    args.add(outputs[0].path + ".work")
    for rel, f in places:
        args.add("place:%s=%s" % (rel, f.path))
    for rel, f in takes:
        args.add("take:%s=%s" % (rel, f.path))
    env = {"PATH": "/bin:/usr/bin:/usr/local/bin", "LC_ALL": "C"}
    env.update(ctx.attr.build_env)
    ctx.actions.run(
        executable = ctx.executable._kbuild_tail,
        arguments = [args],
        # The LLVM tools are inputs so that the cache key follows them;
        # make finds the same ones as clang-N etc. on PATH, as Kbuild does.
        inputs = depset(
            ctx.files.objtree + ctx.files.srcs + [f for _, f in places],
            transitive = [tc.files],
        ),
        outputs = outputs,
        env = env,
        # Local (remotely cached): one serial step that runs the host's
        # make, perl and compressors, which are not inputs.
        execution_requirements = {"no-remote-exec": "1"},
        mnemonic = MNEMONIC.KBUILD_TAIL,
        progress_message = what,
    )

KBUILD_TAIL_TOOLCHAINS = [TOOLCHAIN_TYPE]
