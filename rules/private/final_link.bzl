"""Final link phase: vmlinux.o from native objects, then objtool.

Also the initcall-ordering script, which Kbuild generates from the bitcode
(scripts/generate_initcall_order.pl) and both links use.
"""

load(":common.bzl", "TOOLCHAIN_TYPE", "llvm_toolchain")
load(":providers.bzl", "InitcallOrderInfo", "KernelObjectsInfo")
load(":thin_link.bzl", "link_inputs")

def _kernel_initcall_order_impl(ctx):
    if not ctx.file.script:
        return [InitcallOrderInfo(lds = None)]
    tc = llvm_toolchain(ctx)
    objects = ctx.attr.objects[KernelObjectsInfo].objects
    files = [o.bitcode or o.native for o in objects]
    out = ctx.actions.declare_file(ctx.attr.name + "/.tmp_initcalls.lds")
    args = ctx.actions.args()
    args.add(out)
    args.add("perl")
    args.add(ctx.file.script)
    args.add_all(files)
    ctx.actions.run(
        executable = ctx.executable._stdout_to,
        arguments = [args],
        inputs = depset(files + [ctx.file.script], transitive = [tc.files]),
        outputs = [out],
        # The script runs $NM on every object, relative to $objtree.
        env = {"NM": tc.llvm_nm.path, "objtree": "."},
        mnemonic = "InitcallOrder",
        progress_message = "Ordering initcalls of %{label}",
    )
    return [InitcallOrderInfo(lds = out), DefaultInfo(files = depset([out]))]

kernel_initcall_order = rule(
    implementation = _kernel_initcall_order_impl,
    doc = "Runs Kbuild's generate_initcall_order.pl over the FE objects.",
    attrs = {
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True),
        "script": attr.label(allow_single_file = True, doc = "scripts/generate_initcall_order.pl, or None for no ordering."),
        "_stdout_to": attr.label(default = "//rules/private:stdout_to.sh", allow_single_file = True, executable = True, cfg = "exec"),
    },
    toolchains = [TOOLCHAIN_TYPE],
)

def _kernel_final_link_impl(ctx):
    tc = llvm_toolchain(ctx)
    objects = ctx.attr.objects[KernelObjectsInfo].objects
    lds = ctx.attr.initcalls[InitcallOrderInfo].lds
    files = [o.native for o in objects]
    out = ctx.actions.declare_file(ctx.attr.out)
    args = ctx.actions.args()
    args.use_param_file("@%s", use_always = True)
    args.set_param_file_format("multiline")
    args.add_all(ctx.attr.ldflags)
    args.add("-r")
    args.add("-o", out)
    inputs = list(files)
    if lds:
        args.add("-T", lds)
        inputs.append(lds)
    link_inputs(args, objects, files)

    head = ctx.actions.args()
    head.add(tc.ld_lld)
    tail = ctx.actions.args()
    tail.add(out)
    if ctx.attr.objtool:
        tail.add(tc.objtool)
        tail.add_all(ctx.attr.objtool_args)
    ctx.actions.run(
        executable = ctx.executable._link_vmlinux,
        arguments = [head, args, tail],
        inputs = depset(inputs + ([tc.objtool] if ctx.attr.objtool else []), transitive = [tc.files]),
        outputs = [out],
        mnemonic = "VmlinuxLink",
        progress_message = "Linking %{output}" + (" and running objtool" if ctx.attr.objtool else ""),
    )
    return [DefaultInfo(files = depset([out]))]

kernel_final_link = rule(
    implementation = _kernel_final_link_impl,
    doc = "Links vmlinux.o from native objects and runs objtool as Kbuild does for LTO.",
    attrs = {
        "initcalls": attr.label(providers = [InitcallOrderInfo], mandatory = True),
        "ldflags": attr.string_list(doc = "KBUILD_LDFLAGS of the vmlinux.o link."),
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True),
        "objtool": attr.bool(doc = "Whether Kbuild runs objtool on vmlinux.o."),
        "objtool_args": attr.string_list(doc = "objtool's arguments before vmlinux.o."),
        "out": attr.string(default = "vmlinux.o"),
        "_link_vmlinux": attr.label(default = "//rules/private:link_vmlinux.sh", allow_single_file = True, executable = True, cfg = "exec"),
    },
    toolchains = [TOOLCHAIN_TYPE],
)
