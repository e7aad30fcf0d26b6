"""The initcall-ordering linker script of a link unit, as Kbuild makes it.

Kbuild generates it from the bitcode (scripts/generate_initcall_order.pl)
for a Clang LTO link, which takes it with -T: the objects' initcall symbols
are listed by InitcallScan actions, a shard of objects each, and
tools/kthinlto/actions/initcall_order.py orders them as Kbuild's script
does, in one process (InitcallOrder).  An edit re-scans one shard; the
ordering re-runs only when an initcall changed.
"""

load(":common.bzl", "TOOLCHAIN_TYPE", "action_python", "common_dir", "llvm_toolchain")
load(":contract.bzl", "MNEMONIC")
load(":providers.bzl", "KernelObjectsInfo", "LinkerScriptInfo")

# Objects per InitcallScan action: an edit re-scans one shard (about a
# second of llvm-nm), a cold build pays the overhead of few actions.
_SCAN_SHARD = 32

def _kernel_initcall_order_impl(ctx):
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
            mnemonic = MNEMONIC.INITCALL_SCAN,
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
        mnemonic = MNEMONIC.INITCALL_ORDER,
        progress_message = "Ordering the initcalls of %d objects of %s" % (len(objects), ctx.label),
    )
    return [LinkerScriptInfo(script = out), DefaultInfo(files = depset([out]))]

kernel_initcall_order = rule(
    implementation = _kernel_initcall_order_impl,
    doc = "Orders a link unit's initcalls as Kbuild's generate_initcall_order.pl does.",
    attrs = {
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True),
        "_initcall_order": attr.label(default = "//tools/kthinlto/actions:initcall_order.py", allow_single_file = True),
        "_initcall_scan": attr.label(default = "//rules/private:initcall_scan.sh", allow_single_file = True, executable = True, cfg = "exec"),
    },
    toolchains = [TOOLCHAIN_TYPE],
)
