"""Thin-link phase: one serial summary pass over all objects.

`ld.lld -r --thinlto-index-only` reads the summaries of every bitcode object
(and the symbols of the native ones, which keep what assembly references),
decides imports and internalization, and writes per bitcode object an index
(.thinlto.bc) and the list of modules it imports (.imports).

Kbuild's initcall-ordering linker script is left out: it only orders input
sections, so it cannot change a ThinLTO decision (the indexes are byte for
byte the same with and without it), and without it the thin link does not
wait for InitcallOrder, which reads every object.

Then the same action writes, per bitcode object, an import bundle: one tar
with the object's index, its import list and exactly the bitcode it
imports, under the module names the index uses.  The link runs inside the FE
output directory, so those names are short objtree paths (kernel/sys.o).
The BE declares its bundle and its own bitcode, so its cache key covers what
it reads and nothing else: an edit re-runs only the backends whose index or
imported bitcode changed (docs/backend-inputs.md says why this design and
not another).
"""

load(":common.bzl", "TOOLCHAIN_TYPE", "action_python", "common_dir", "kernel_root", "llvm_toolchain", "merged_env")
load(":contract.bzl", "MNEMONIC")
load(":providers.bzl", "KernelObjectsInfo", "ThinLtoIndexInfo")

def link_inputs(args, objects, files):
    """Adds objects to a link in Kbuild's order: whole-archive, then lazy.

    Args:
      args: Args to add to.
      objects: list of kernel_object records (KernelObjectsInfo.objects).
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

def _relative(dir, start):
    """Path of directory `dir` from directory `start` (both end in /)."""
    a = dir.rstrip("/").split("/")
    b = start.rstrip("/").split("/")
    common = 0
    for x, y in zip(a, b):
        if x != y:
            break
        common += 1
    return "../" * (len(b) - common) + "".join([c + "/" for c in a[common:]])

def _kernel_thin_link_impl(ctx):
    tc = llvm_toolchain(ctx)
    python = action_python(ctx)
    objects = ctx.attr.objects[KernelObjectsInfo].objects
    bundles = {
        o.path: ctx.actions.declare_file(ctx.attr.name + "/" + o.path + ".thinlto.tar")
        for o in objects
        if o.bitcode
    }
    fe_dir = common_dir([o.bitcode or o.native for o in objects], [o.path for o in objects], "the thin link")

    # The link runs inside the FE directory, so modules are named by their
    # objtree paths (kernel/sys.o) in indexes, imports and bundles.  lld
    # writes indexes and import lists to a scratch directory; the launcher
    # packs them into the bundles and removes it.
    scratch = ctx.bin_dir.path + "/" + kernel_root(ctx) + "/" + ctx.attr.name + ".scratch/"
    scratch_rel = _relative(scratch, fe_dir)

    args = ctx.actions.args()
    args.use_param_file("@%s", use_always = True)
    args.set_param_file_format("multiline")
    args.add_all(ctx.attr.ldflags)
    args.add_all(["-r", "--thinlto-index-only", "--thinlto-emit-imports-files"])
    args.add("--thinlto-prefix-replace=;" + scratch_rel)

    # With --thinlto-index-only lld writes no object; -o only names one.
    args.add("-o", scratch_rel + "thin-link.o")
    inputs = [o.bitcode or o.native for o in objects]
    link_inputs(args, objects, [o.path for o in objects])

    manifest = ctx.actions.declare_file(ctx.attr.name + ".bundles")
    ctx.actions.write(manifest, "".join([
        "%s\t%s\n" % (o.path, bundles[o.path].path)
        for o in objects
        if o.bitcode
    ]))
    head = ctx.actions.args()
    head.add_all(python.flags)
    head.add(ctx.file._import_bundles)
    head.add(manifest, format = "--manifest=%s")
    head.add(fe_dir, format = "--fe_dir=%s")
    head.add(scratch, format = "--scratch=%s")
    head.add(tc.llvm_nm, format = "--nm=%s")
    head.add(tc.ld_lld, format = "--ld=%s")
    head.add("--")
    ctx.actions.run(
        executable = python.interpreter,
        arguments = [head, args],
        inputs = depset(
            inputs + [manifest] + ctx.files._import_bundles_srcs,
            transitive = [tc.files, python.files],
        ),
        outputs = bundles.values(),
        env = merged_env(tc.env, python.env),
        mnemonic = MNEMONIC.THINLTO_INDEX,
        # Sandboxed like every local action (no network, only declared
        # inputs); its bundles are copied out of the tmpfs sandbox once,
        # about a tenth of a second per 50 MB.
        # Local but remotely cached (no-remote-exec): it reads every object
        # and writes a bundle per object, one serial step that shipping both
        # ways would only slow down.
        execution_requirements = {"no-remote-exec": "1"},
        progress_message = "Thin-linking %d bitcode objects of %s" % (len(bundles), ctx.label),
    )
    return [
        DefaultInfo(files = depset(bundles.values())),
        ThinLtoIndexInfo(bundles = bundles),
    ]

kernel_thin_link = rule(
    implementation = _kernel_thin_link_impl,
    doc = "Runs the ThinLTO thin link over a link unit's members (FE outputs).",
    attrs = {
        "ldflags": attr.string_list(doc = "The unit's linker flags."),
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True),
        "_import_bundles": attr.label(
            default = "//tools/kthinlto/actions:import_bundles.py",
            allow_single_file = True,
        ),
        "_import_bundles_srcs": attr.label(
            default = "//tools/kthinlto/actions:import_bundles_srcs",
            allow_files = True,
            doc = "The script and the modules it imports.",
        ),
    },
    toolchains = [TOOLCHAIN_TYPE],
)
