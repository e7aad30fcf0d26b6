"""BE phase: one native compile per bitcode object, from its ThinLTO index.

As mainline Kbuild's CONFIG_LTO_CLANG_THIN_DIST does: the object's own Kbuild
flags minus the preprocessor ones, `-x ir -fthinlto-index=...`.
"""

load(":common.bzl", "TOOLCHAIN_TYPE", "expand", "kernel_root", "llvm_toolchain")
load(":providers.bzl", "KernelObjectsInfo", "ThinLtoIndexInfo")

def backend_action(ctx, tc, flags, bitcode, index, bundle, out):
    """Emits one BE compile, run inside the object's import bundle.

    Args:
      ctx: the rule context.
      tc: LlvmToolchainInfo.
      flags: list of expanded BE flags.
      bitcode: File, the object's FE bitcode; its path (as the thin link and
        the index name it) is looked up inside `bundle`.
      index: File, its .thinlto.bc.
      bundle: directory File with the object's bitcode and what it imports.
      out: the native object File.
    """

    # Paths from inside the bundle back to the execroot.
    back = "../" * (bundle.path.count("/") + 1)
    args = ctx.actions.args()
    args.add(bundle.path)
    args.add(tc.clang, format = back + "%s")
    args.add_all(flags)
    args.add_all(["-Wno-unused-command-line-argument", "-fno-lto", "-x", "ir"])

    # ld.lld always emits a section per function and per data object when it
    # runs ThinLTO backends in-process; the same here gives the same sections.
    args.add_all(["-ffunction-sections", "-fdata-sections"])
    args.add(index, format = "-fthinlto-index=" + back + "%s")
    args.add("-c")
    args.add(out, format = "-o" + back + "%s")
    args.add(bitcode.path)
    ctx.actions.run(
        executable = ctx.executable._in_dir,
        arguments = [args],
        inputs = depset([bundle, index], transitive = [tc.files]),
        outputs = [out],
        mnemonic = "ThinLtoBackend",
        progress_message = "ThinLTO backend %s" % out.short_path,
    )

def _kernel_backend_impl(ctx):
    tc = llvm_toolchain(ctx)
    root = kernel_root(ctx)
    info = ctx.attr.objects[KernelObjectsInfo]
    index = ctx.attr.index[ThinLtoIndexInfo]
    objects = []
    for o in info.objects:
        if not o.bitcode:
            objects.append(o)
            continue
        out = ctx.actions.declare_file(ctx.attr.name + "/" + o.path)
        backend_action(
            ctx,
            tc,
            flags = [expand(f, root) for f in o.be_flags],
            bitcode = o.bitcode,
            index = index.indexes[o.path],
            bundle = index.bundles[o.path],
            out = out,
        )
        objects.append(struct(
            path = o.path,
            bitcode = o.bitcode,
            native = out,
            lazy = o.lazy,
            be_flags = o.be_flags,
        ))
    return [
        DefaultInfo(files = depset([o.native for o in objects])),
        KernelObjectsInfo(objects = objects),
    ]

kernel_backend = rule(
    implementation = _kernel_backend_impl,
    doc = "Compiles every bitcode object to native code from its index (BE phase).",
    attrs = {
        "index": attr.label(providers = [ThinLtoIndexInfo], mandatory = True),
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True),
        "_in_dir": attr.label(
            default = "//rules/private:in_dir.sh",
            allow_single_file = True,
            executable = True,
            cfg = "exec",
        ),
    },
    toolchains = [TOOLCHAIN_TYPE],
)
