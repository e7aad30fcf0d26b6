"""BE phase: one native compile per bitcode object, from its ThinLTO index.

As mainline Kbuild's CONFIG_LTO_CLANG_THIN_DIST does: the object's own Kbuild
flags minus the preprocessor ones, `-x ir -fthinlto-index=...`.
"""

load(":common.bzl", "TOOLCHAIN_TYPE", "llvm_toolchain")
load(":contract.bzl", "MNEMONIC")
load(":providers.bzl", "KernelObjectsInfo", "ThinLtoIndexInfo", "kernel_object")

def backend_action(ctx, tc, flags, module, bitcode, bundle, out):
    """Emits one BE compile, run where its bundle is unpacked.

    Args:
      ctx: the rule context.
      tc: LlvmToolchainInfo.
      flags: list of expanded BE flags.
      module: the object's module name (its objtree path, as the thin link
        and the index name it).
      bitcode: File, the object's own FE bitcode.
      bundle: File, its import bundle (index, import list, imported bitcode).
      out: the native object File.
    """

    # The backend runs in a scratch directory next to its output, where the
    # bundle is unpacked; paths from there back to the execroot.
    work = out.path + ".bundle"
    back = "../" * (work.count("/") + 1)
    args = ctx.actions.args()
    args.add(bundle)
    args.add(bitcode)
    args.add(module)
    args.add(work)
    args.add(tc.clang, format = back + "%s")
    args.add_all(flags)
    args.add_all(["-Wno-unused-command-line-argument", "-fno-lto", "-x", "ir"])

    # ld.lld always emits a section per function and per data object when it
    # runs ThinLTO backends in-process; the same here gives the same sections.
    args.add_all(["-ffunction-sections", "-fdata-sections"])
    args.add("-fthinlto-index=%s.thinlto.bc" % module)
    args.add("-c")
    args.add(out, format = "-o" + back + "%s")
    args.add(module)
    ctx.actions.run(
        executable = ctx.executable._backend,
        arguments = [args],
        inputs = depset([bundle, bitcode], transitive = [tc.files]),
        outputs = [out],
        env = tc.env,
        # Remote-executable (no requirement): the fan-out after the thin link,
        # each reading only its bundle, its bitcode and the toolchain.
        mnemonic = MNEMONIC.THINLTO_BACKEND,
        progress_message = "ThinLTO backend %s" % out.short_path,
    )

def _kernel_backend_impl(ctx):
    tc = llvm_toolchain(ctx)
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
            flags = o.be_flags,
            module = o.path,
            bitcode = o.bitcode,
            bundle = index.bundles[o.path],
            out = out,
        )
        objects.append(kernel_object(
            path = o.path,
            bitcode = o.bitcode,
            native = out,
            be_flags = o.be_flags,
            lazy = o.lazy,
        ))
    return [
        DefaultInfo(files = depset([o.native for o in objects])),
        KernelObjectsInfo(objects = objects),
    ]

kernel_backend = rule(
    implementation = _kernel_backend_impl,
    doc = "Compiles a link unit's bitcode members to native code from their indexes (BE phase).",
    attrs = {
        "index": attr.label(providers = [ThinLtoIndexInfo], mandatory = True),
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True),
        "_backend": attr.label(
            default = "//rules/private:backend.sh",
            allow_single_file = True,
            executable = True,
            cfg = "exec",
        ),
    },
    toolchains = [TOOLCHAIN_TYPE],
)
