"""Thin-link phase: one serial summary pass over all objects.

`ld.lld -r --thinlto-index-only` reads the summaries of every bitcode object
(and the symbols of the native ones, which keep what assembly references),
decides imports and internalization, and writes per bitcode object an index
(.thinlto.bc) and the list of modules it imports (.imports).
"""

load(":common.bzl", "TOOLCHAIN_TYPE", "llvm_toolchain")
load(":providers.bzl", "InitcallOrderInfo", "KernelObjectsInfo", "ThinLtoIndexInfo")

def link_inputs(args, objects, files):
    """Adds objects to a link in Kbuild's order: whole-archive, then lazy.

    Args:
      args: Args to add to.
      objects: list of object structs (KernelObjectsInfo.objects).
      files: list of File, the file to link for each of `objects`.
    """
    whole = [f for o, f in zip(objects, files) if not o.lazy]
    lazy = [f for o, f in zip(objects, files) if o.lazy]
    args.add("--whole-archive")
    args.add_all(whole)
    args.add("--no-whole-archive")
    if lazy:
        # lib.a members stay lazy, as in Kbuild's --start-group lib.a; lld
        # resolves lazy objects in any order, so no group is needed.
        args.add("--start-lib")
        args.add_all(lazy)
        args.add("--end-lib")

def _dir_of(file, path):
    """The directory prefix of `file` under which it is named `path`."""
    return file.path[:-len(path)]

def _kernel_thin_link_impl(ctx):
    tc = llvm_toolchain(ctx)
    objects = ctx.attr.objects[KernelObjectsInfo].objects
    lds = ctx.attr.initcalls[InitcallOrderInfo].lds
    indexes = {}
    imports = {}
    fe_dir = None
    out_dir = None
    for o in objects:
        if not o.bitcode:
            continue
        indexes[o.path] = ctx.actions.declare_file(ctx.attr.name + "/" + o.path + ".thinlto.bc")
        imports[o.path] = ctx.actions.declare_file(ctx.attr.name + "/" + o.path + ".imports")
        fe_dir = _dir_of(o.bitcode, o.path)
        out_dir = _dir_of(indexes[o.path], o.path + ".thinlto.bc")

    args = ctx.actions.args()
    args.use_param_file("@%s", use_always = True)
    args.set_param_file_format("multiline")
    args.add_all(ctx.attr.ldflags)
    args.add_all(["-r", "--thinlto-index-only", "--thinlto-emit-imports-files"])
    args.add("--thinlto-prefix-replace=%s;%s" % (fe_dir, out_dir))

    # With --thinlto-index-only lld writes no object; -o only names one.
    args.add("-o", out_dir + "thin-link.o")
    inputs = [o.bitcode or o.native for o in objects]
    if lds:
        args.add("-T", lds)
        inputs.append(lds)
    link_inputs(args, objects, [o.bitcode or o.native for o in objects])
    ctx.actions.run(
        executable = tc.ld_lld,
        arguments = [args],
        inputs = depset(inputs, transitive = [tc.files]),
        outputs = indexes.values() + imports.values(),
        mnemonic = "ThinLtoIndex",
        progress_message = "Thin-linking %d bitcode objects of %s" % (len(indexes), ctx.label),
    )
    return [
        DefaultInfo(files = depset(indexes.values() + imports.values())),
        ThinLtoIndexInfo(indexes = indexes, imports = imports),
    ]

kernel_thin_link = rule(
    implementation = _kernel_thin_link_impl,
    doc = "Runs the ThinLTO thin link over a kernel's FE outputs.",
    attrs = {
        "initcalls": attr.label(providers = [InitcallOrderInfo], mandatory = True),
        "ldflags": attr.string_list(doc = "KBUILD_LDFLAGS of the vmlinux.o link."),
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True),
    },
    toolchains = [TOOLCHAIN_TYPE],
)
