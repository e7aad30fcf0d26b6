"""FE phase: one compile per object, C to ThinLTO bitcode (or native code).

Each action declares exactly the files clang-scan-deps saw the compile open,
so an undeclared header is missing from the sandbox instead of read from the
host.
"""

load(":common.bzl", "TOOLCHAIN_TYPE", "expand", "kernel_root", "llvm_toolchain")
load(":contract.bzl", "MNEMONIC")
load(":providers.bzl", "KernelObjectsInfo", "kernel_object")

def frontend_action(ctx, tc, flags, source, inputs, out, bitcode, module = "", mnemonic = None, config_view = None):
    """Emits one FE compile.

    Args:
      ctx: the rule context.
      tc: LlvmToolchainInfo.
      flags: list of expanded compile flags, as Kbuild computed them.
      source: File to compile.
      inputs: list of File, the headers (and source) the compile reads.
      out: the output File.
      bitcode: True for a ThinLTO bitcode compile.
      module: the module the object is part of (fs/fuse/fuse.ko), or "".
      mnemonic: instead of ThinLtoCompile or NativeCompile (a module's
        .mod.o compile is ModuleInfoCompile).
      config_view: the compile's view of the config header (a File,
        DIR/generated/autoconf.h; tools/kthinlto/autoconf.py), among
        inputs: DIR comes first on the include path, where the compile
        looks for <generated/autoconf.h>.  None: the compile reads the
        header itself, if at all.
    """
    args = ctx.actions.args()
    if config_view:
        args.add("-I" + config_view.dirname[:-len("/generated")])
    args.add_all(flags)
    args.add("-c")
    args.add("-o", out)
    args.add(source)
    ctx.actions.run(
        executable = tc.clang,
        arguments = [args],
        inputs = depset(inputs, transitive = [tc.files]),
        outputs = [out],
        env = tc.env,
        # Remote-executable (no requirement): hundreds of independent
        # compiles whose inputs, toolchain included, are all declared.
        mnemonic = mnemonic or (MNEMONIC.THINLTO_COMPILE if bitcode else MNEMONIC.NATIVE_COMPILE),
        # Names the module too: a failing compile says what it breaks.
        progress_message = ("Compiling %s to bitcode" if bitcode else "Compiling %s") % source.short_path + (" for module %s" % module if module else ""),
    )

def prebuilt_action(ctx, source, out):
    """Puts an object Kbuild made during translation among the FE outputs.

    The thin link and final link want every object under one directory
    (common_dir); these few (arm64's objcopy'd .pi.o) are linked there.

    Args:
      ctx: the rule context.
      source: the object in the translated object tree.
      out: the output File.
    """
    ctx.actions.symlink(
        output = out,
        target_file = source,
        progress_message = "Taking %s as Kbuild made it" % source.short_path,
    )

def _kernel_frontend_impl(ctx):
    tc = llvm_toolchain(ctx)
    root = kernel_root(ctx)
    files = ctx.files.srcs
    flagsets = json.decode(ctx.attr.flagsets)
    expanded = {}
    objects = []
    for o in json.decode(ctx.attr.objects):
        # Each flag set is expanded once (thousands of objects share a few).
        for key in (o["flags"], o["be_flags"]):
            if key not in expanded:
                expanded[key] = [expand(f, root) for f in flagsets[key]]
        out = ctx.actions.declare_file(ctx.attr.name + "/" + o["path"])
        if o.get("prebuilt"):
            prebuilt_action(ctx, files[o["source"]], out)
        else:
            frontend_action(
                ctx,
                tc,
                flags = expanded[o["flags"]],
                source = files[o["source"]],
                inputs = [files[i] for i in o["inputs"]],
                out = out,
                bitcode = o["bitcode"] == 1,
                module = o.get("module", ""),
                config_view = files[o["autoconf"]] if o["autoconf"] >= 0 else None,
            )
        objects.append(kernel_object(
            path = o["path"],
            bitcode = out if o["bitcode"] else None,
            native = None if o["bitcode"] else out,
            be_flags = expanded[o["be_flags"]],
        ))
    return [
        DefaultInfo(files = depset([o.bitcode or o.native for o in objects])),
        KernelObjectsInfo(objects = objects),
        # One group per object, named by its path: `make kernel/sys.o`'s
        # equivalent, @kernel//:kernel/sys.o (kernel_link_units).
        OutputGroupInfo(**{o.path: depset([o.bitcode or o.native]) for o in objects}),
    ]

kernel_frontend = rule(
    implementation = _kernel_frontend_impl,
    doc = "Compiles every object of a translated kernel, once each (FE phase).",
    attrs = {
        "flagsets": attr.string(doc = "JSON list of flag lists (with %{src}/%{obj} tokens)."),
        "objects": attr.string(doc = "JSON list of objects from tools/kthinlto/emit.py."),
        "srcs": attr.label_list(allow_files = True, doc = "Every source and header, indexed by `objects`."),
    },
    toolchains = [TOOLCHAIN_TYPE],
)
