"""Final link phase: vmlinux.o from native objects, then objtool.

Also the initcall-ordering linker script, which Kbuild generates from the
bitcode (scripts/generate_initcall_order.pl) and the final link uses: the
objects' initcall symbols are listed by InitcallScan actions, a shard of
objects each, and tools/kthinlto/actions/initcall_order.py orders them as Kbuild's script does, in
one process (InitcallOrder).  An edit re-scans one shard; the ordering
re-runs only when an initcall changed.
"""

load(":common.bzl", "TOOLCHAIN_TYPE", "action_python", "common_dir", "llvm_toolchain")
load(":providers.bzl", "InitcallOrderInfo", "KernelObjectsInfo")
load(":thin_link.bzl", "link_inputs")

# Objects per InitcallScan action: an edit re-scans one shard (about a
# second of llvm-nm), a cold build pays the overhead of few actions.
_SCAN_SHARD = 32

def _kernel_initcall_order_impl(ctx):
    if not ctx.attr.enabled:
        return [InitcallOrderInfo(lds = None)]
    tc = llvm_toolchain(ctx)
    objects = ctx.attr.objects[KernelObjectsInfo].objects
    listings = []
    for first in range(0, len(objects), _SCAN_SHARD):
        shard = objects[first:first + _SCAN_SHARD]
        files = [o.bitcode or o.native for o in shard]
        outs = [ctx.actions.declare_file(ctx.attr.name + "/" + o.path + ".initcalls") for o in shard]
        args = ctx.actions.args()
        args.add(tc.llvm_nm)
        args.add(common_dir(files, [o.path for o in shard], "an initcall scan"))
        args.add(common_dir(outs, [o.path + ".initcalls" for o in shard], "an initcall scan"))
        args.add_all(files)
        ctx.actions.run(
            executable = ctx.executable._initcall_scan,
            arguments = [args],
            inputs = depset(files, transitive = [tc.files]),
            outputs = outs,
            env = tc.env,
            # Remote-executable (no requirement): independent shards.
            mnemonic = "InitcallScan",
            progress_message = "Scanning %d objects for initcalls (%s ...)" % (len(shard), shard[0].path),
        )
        listings.extend(outs)

    # Ordered as Kbuild's script orders them, without its process per object
    # (initcall_order.py; the e2e suite compares the result with Kbuild's).
    out = ctx.actions.declare_file(ctx.attr.name + "/.tmp_initcalls.lds")
    python = action_python(ctx)
    head = ctx.actions.args()
    head.add_all(python.flags)
    head.add(ctx.file._initcall_order)
    args = ctx.actions.args()
    args.use_param_file("@%s", use_always = True)
    args.set_param_file_format("multiline")
    args.add(out, format = "--out=%s")
    args.add_all(listings)
    ctx.actions.run(
        executable = python.interpreter,
        arguments = [head, args],
        inputs = depset(listings + [ctx.file._initcall_order], transitive = [python.files]),
        outputs = [out],
        env = python.env,
        # Local but remotely cached: a tenth of a second, not worth
        # shipping every listing to a worker.
        execution_requirements = {"no-remote-exec": "1"},
        mnemonic = "InitcallOrder",
        progress_message = "Ordering the initcalls of %d objects of %s" % (len(objects), ctx.label),
    )
    return [InitcallOrderInfo(lds = out), DefaultInfo(files = depset([out]))]

kernel_initcall_order = rule(
    implementation = _kernel_initcall_order_impl,
    doc = "Orders the FE objects' initcalls as Kbuild's generate_initcall_order.pl does.",
    attrs = {
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True),
        "enabled": attr.bool(doc = "Whether Kbuild orders initcalls (Clang LTO with scripts/generate_initcall_order.pl); if not, lds is None."),
        "_initcall_order": attr.label(default = "//tools/kthinlto/actions:initcall_order.py", allow_single_file = True),
        "_initcall_scan": attr.label(default = "//rules/private:initcall_scan.sh", allow_single_file = True, executable = True, cfg = "exec"),
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
    objtool = ctx.executable.objtool
    if objtool:
        tail.add(objtool)
        tail.add_all(ctx.attr.objtool_args)
    ctx.actions.run(
        executable = ctx.executable._link_vmlinux,
        arguments = [head, args, tail],
        inputs = depset(inputs + ([objtool] if objtool else []), transitive = [tc.files]),
        outputs = [out],
        env = tc.env,
        # Local but remotely cached: one serial link reading every native
        # object (objtool links the host's libelf, which is not an input).
        execution_requirements = {"no-remote-exec": "1"},
        mnemonic = "VmlinuxLink",
        # Bazel 4.2.3 does not expand %{output}: the path is formatted here.
        progress_message = "Linking %s%s" % (out.short_path, " and running objtool" if objtool else ""),
    )
    return [DefaultInfo(files = depset([out]))]

kernel_final_link = rule(
    implementation = _kernel_final_link_impl,
    doc = "Links vmlinux.o from native objects and runs objtool as Kbuild does for LTO.",
    attrs = {
        "initcalls": attr.label(providers = [InitcallOrderInfo], mandatory = True),
        "ldflags": attr.string_list(doc = "KBUILD_LDFLAGS of the vmlinux.o link."),
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True),
        "objtool": attr.label(allow_single_file = True, executable = True, cfg = "exec", doc = "The kernel's objtool, built by Kbuild during translation; none where Kbuild runs no objtool on vmlinux.o (arm64)."),
        "objtool_args": attr.string_list(doc = "objtool's arguments before vmlinux.o."),
        "out": attr.string(default = "vmlinux.o"),
        "_link_vmlinux": attr.label(default = "//rules/private:link_vmlinux.sh", allow_single_file = True, executable = True, cfg = "exec"),
    },
    toolchains = [TOOLCHAIN_TYPE],
)
