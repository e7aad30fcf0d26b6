"""Thin-link phase: one serial summary pass over all objects.

`ld.lld -r --thinlto-index-only` reads the summaries of every bitcode object
(and the symbols of the native ones, which keep what assembly references),
decides imports and internalization, and writes per bitcode object an index
(.thinlto.bc) and the list of modules it imports (.imports).

Kbuild's initcall-ordering linker script is left out: it only orders input
sections, so it cannot change a ThinLTO decision (the indexes are byte for
byte the same with and without it), and without it the thin link does not
wait for InitcallOrder, which reads every object.

Then the same action lays out, per bitcode object, an import bundle: a tree
artifact with the object's bitcode and exactly the bitcode it imports, at
the paths its index names.  The BE declares the bundle, so its cache key
covers what it reads and nothing else: an edit re-runs only the backends
whose index or imported bitcode changed (docs/backend-inputs.md says why
this design and not another).
"""

load(":common.bzl", "TOOLCHAIN_TYPE", "llvm_toolchain")
load(":providers.bzl", "KernelObjectsInfo", "ThinLtoIndexInfo")

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
    indexes = {}
    imports = {}
    bundles = {}
    fe_dir = None
    out_dir = None
    for o in objects:
        if not o.bitcode:
            continue
        indexes[o.path] = ctx.actions.declare_file(ctx.attr.name + "/" + o.path + ".thinlto.bc")
        imports[o.path] = ctx.actions.declare_file(ctx.attr.name + "/" + o.path + ".imports")
        bundles[o.path] = ctx.actions.declare_directory(ctx.attr.name + "_bundles/" + o.path)
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
    link_inputs(args, objects, [o.bitcode or o.native for o in objects])

    manifest = ctx.actions.declare_file(ctx.attr.name + ".bundles")
    ctx.actions.write(manifest, "".join([
        "%s\t%s\t%s\n" % (o.bitcode.path, imports[o.path].path, bundles[o.path].path)
        for o in objects
        if o.bitcode
    ]))
    head = ctx.actions.args()
    head.add(manifest)
    head.add(tc.ld_lld)
    ctx.actions.run(
        executable = ctx.executable._import_bundles,
        arguments = [head, args],
        inputs = depset(inputs + [manifest], transitive = [tc.files]),
        outputs = indexes.values() + imports.values() + bundles.values(),
        mnemonic = "ThinLtoIndex",
        # Unsandboxed: its ~2000 outputs (an index, an import list and a
        # bundle per object) would be copied out of a tmpfs sandbox, and the
        # bundles' hard links to the FE bitcode would become copies.  It
        # reads only the files on its command line, all declared.
        execution_requirements = {"no-sandbox": "1"},
        progress_message = "Thin-linking %d bitcode objects of %s" % (len(indexes), ctx.label),
    )
    return [
        DefaultInfo(files = depset(indexes.values() + imports.values())),
        ThinLtoIndexInfo(indexes = indexes, imports = imports, bundles = bundles),
    ]

kernel_thin_link = rule(
    implementation = _kernel_thin_link_impl,
    doc = "Runs the ThinLTO thin link over a kernel's FE outputs.",
    attrs = {
        "ldflags": attr.string_list(doc = "KBUILD_LDFLAGS of the vmlinux.o link."),
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True),
        "_import_bundles": attr.label(
            default = "//rules/private:import_bundles.py",
            allow_single_file = True,
            executable = True,
            cfg = "exec",
        ),
    },
    toolchains = [TOOLCHAIN_TYPE],
)
