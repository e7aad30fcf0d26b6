"""Final link phase: a link unit's relocatable link, then its post-link step.

`ld.lld -r` of the unit's native objects (BE outputs and the FE's native
ones), whole members then lazy ones, in the order Kbuild's in-process LTO
link places them (the FE's native objects, then the BE outputs, each in
Kbuild's order), with the generated linker scripts; then the command
Kbuild runs on the output in place (objtool --link for vmlinux.o on x86).  vmlinux.o is one such unit.
"""

load(":common.bzl", "TOOLCHAIN_TYPE", "action_python", "llvm_toolchain", "merged_env")
load(":contract.bzl", "MNEMONIC")
load(":providers.bzl", "KernelObjectsInfo", "LinkerScriptInfo")
load(":thin_link.bzl", "link_inputs")

def _symbol_order_action(ctx, tc, members, linked):
    """The response file that gives the link Kbuild's symbol order.

    Args:
      ctx: the rule context.
      tc: LlvmToolchainInfo.
      members: the unit's kernel_object records, in Kbuild's link order.
      linked: the Files the link reads.

    Returns:
      The response file (tools/kthinlto/actions/symbol_order.py).
    """
    python = action_python(ctx)
    out = ctx.actions.declare_file(ctx.attr.out + ".symbol_order")
    fe = [o.bitcode or o.native for o in members]
    head = ctx.actions.args()
    head.add_all(python.flags)
    head.add(ctx.file._symbol_order)
    head.add(tc.llvm_nm, format = "--nm=%s")
    head.add(out, format = "--out=%s")
    files = ctx.actions.args()
    files.use_param_file("@%s")
    files.set_param_file_format("multiline")
    files.add_all(fe, format_each = "--member=%s")
    files.add_all(linked, format_each = "--linked=%s")
    ctx.actions.run(
        executable = python.interpreter,
        arguments = [head, files],
        inputs = depset(fe + linked + [ctx.file._symbol_order], transitive = [tc.files, python.files]),
        outputs = [out],
        env = merged_env(tc.env, python.env),
        # Local but remotely cached, beside the link: a short step over the
        # same objects.
        execution_requirements = {"no-remote-exec": "1"},
        mnemonic = MNEMONIC.SYMBOL_ORDER,
        progress_message = "Ordering the symbols of %s as Kbuild's link does" % ctx.attr.out,
    )
    return out

def _kernel_relocatable_link_impl(ctx):
    tc = llvm_toolchain(ctx)
    objects = ctx.attr.objects[KernelObjectsInfo].objects
    members = objects

    # Kbuild's ld.lld compiles the bitcode members in-process and adds the
    # objects LTO made after all of its inputs, so the native members'
    # sections come first in Kbuild's output (.text, .init.text, .data, ...),
    # then the bitcode members', each in link order.  The BE outputs are
    # native already: linked after the native members, they take the place
    # (and the layout) Kbuild's link gives them.
    objects = [o for o in objects if not o.bitcode] + [o for o in objects if o.bitcode]
    scripts = [s[LinkerScriptInfo].script for s in ctx.attr.scripts]
    files = [o.native for o in objects]
    out = ctx.actions.declare_file(ctx.attr.out)
    args = ctx.actions.args()
    args.use_param_file("@%s", use_always = True)
    args.set_param_file_format("multiline")
    args.add_all(ctx.attr.ldflags)
    args.add("-r")
    args.add("-o", out)
    for script in scripts:
        args.add("-T", script)
    order = []
    if ctx.attr.symbol_order:
        # lld enters these symbols before any input, in Kbuild's order:
        # modpost reads a module's dependencies in that order.
        order = [_symbol_order_action(ctx, tc, members, files)]
        args.add("@" + order[0].path)
    link_inputs(args, objects, files)

    head = ctx.actions.args()
    head.add(tc.ld_lld)
    tail = ctx.actions.args()
    tail.add(out)
    post_link = ctx.executable.post_link
    if post_link:
        tail.add(post_link)
        tail.add_all(ctx.attr.post_link_args)
    ctx.actions.run(
        executable = ctx.executable._relocatable_link,
        arguments = [head, args, tail],
        inputs = depset(files + scripts + order + ([post_link] if post_link else []), transitive = [tc.files]),
        outputs = [out],
        env = tc.env,
        # Local but remotely cached: one serial link reading every native
        # object of the unit (objtool links the host's libelf, which is not
        # an input).
        execution_requirements = {"no-remote-exec": "1"},
        mnemonic = MNEMONIC.RELOCATABLE_LINK,
        # Bazel 4.2.3 does not expand %{output}: the path is formatted here.
        progress_message = "Linking %s%s" % (out.short_path, " and running %s" % post_link.basename if post_link else ""),
    )
    return [DefaultInfo(files = depset([out]))]

kernel_relocatable_link = rule(
    implementation = _kernel_relocatable_link_impl,
    doc = "Links a link unit (`ld.lld -r`) from native objects, then runs its post-link step.",
    attrs = {
        "ldflags": attr.string_list(doc = "The unit's linker flags (Kbuild's KBUILD_LDFLAGS for vmlinux.o)."),
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True, doc = "The unit's members after the BE, in link order."),
        "out": attr.string(mandatory = True, doc = "The output, package-relative (vmlinux.o)."),
        "post_link": attr.label(allow_single_file = True, executable = True, cfg = "exec", doc = "Run on the output in place after the link (the kernel's objtool, built by Kbuild during translation); none if Kbuild runs nothing."),
        "post_link_args": attr.string_list(doc = "post_link's arguments before the output."),
        "scripts": attr.label_list(providers = [LinkerScriptInfo], doc = "Generated linker scripts, each passed with -T."),
        "symbol_order": attr.bool(doc = "Give the output's symbol table the order of Kbuild's in-process link (a module: modpost's `depends` follows it)."),
        "_symbol_order": attr.label(default = "//tools/kthinlto/actions:symbol_order.py", allow_single_file = True),
        "_relocatable_link": attr.label(default = "//rules/private:relocatable_link.sh", allow_single_file = True, executable = True, cfg = "exec"),
    },
    toolchains = [TOOLCHAIN_TYPE],
)
