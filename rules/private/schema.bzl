"""The data the translator writes and the rules read: its version, its
shape, and its one decoder.

tools/kthinlto/emit.py writes KERNEL into the generated kernel.bzl, of
version KERNEL_SCHEMA (tools/kthinlto/contract.py, which writes
contract.bzl); decode() is the only place the rules read KERNEL's fields,
and it refuses a KERNEL of another version.  Raise the version there
whenever the shape changes.

KERNEL (schema 6), JSON-compatible:
  schema        this version
  modules       {} without modules; else what Kbuild does after the
                modules' link units, as it saved and recorded it:
                {modpost (the shell command of its modpost, run in the
                object tree), builtin (the shell commands that make
                modules.builtin.modinfo and modules.builtin from
                vmlinux.o, in order), finals (per module in modules.order:
                {module (fs/fuse/fuse.ko), flags (flagsets index: the
                .mod.o compile's), inputs (files indexes: the headers it
                reads), ldflags (the .ko link's, without -o, -T and its
                objects), script (files index: its -T script), common
                (objects linked into every .ko after the .mod.o, 6.12's
                .module-common.o: paths of FE objects)}),
                srcversion (files indexes: what modpost reads for a
                module's srcversion: each .mod, stand-in .cmd files under
                srcversion/, the sources and the headers they list)}
  files         package paths (src/..., obj/..., autoconf/...) that objects
                index
  flagsets      lists of compile flags (%{src}/%{obj} tokens) objects index
  objects       a JSON string of a list, one per object, each compiled once:
                {path, bitcode (0/1), source (files index), flags and
                be_flags (flagsets indexes), inputs (files indexes),
                prebuilt (0/1), module (the module it is part of,
                fs/fuse/fuse.ko, or ""), autoconf (files index of its view
                of the config header, autoconf/<digest>/generated/
                autoconf.h, among inputs instead of the header; -1: none)}
  units         the link units, each a relocatable link: {name (its output,
                vmlinux.o), ldflags, whole and lazy (member paths in link
                order), scripts (generated linker scripts: "initcalls"),
                post_link ([] or [tool package path, args...]), module
                (the loadable module Kbuild makes of it, fs/fuse/fuse.ko,
                or "" for vmlinux.o)}; vmlinux.o first, then the modules
                in Kbuild's modules.order
  config        what was translated, and the architecture's facts
  build_env     KBUILD_BUILD_* and the like, pinned
  kconfig_files every Kconfig file (package paths)
"""

load(":contract.bzl", "KERNEL_SCHEMA")

def check_schema(kernel):
    """Fails, naming the fix, unless KERNEL is of the version these rules read.

    Args:
      kernel: the KERNEL dict of a generated kernel.bzl.
    """
    made = kernel.get("schema", 1)
    if made != KERNEL_SCHEMA:
        fail("kthinlto: this kernel was translated by a%s translator (kernel.bzl schema %s; these rules read %s): run ./kthin configure again" % (
            "n older" if made < KERNEL_SCHEMA else " newer",
            made,
            KERNEL_SCHEMA,
        ))

def decode(kernel):
    """KERNEL, checked and decoded once.

    Args:
      kernel: the KERNEL dict of a generated kernel.bzl, or what decode
        returned for it (returned as it is: the generated BUILD file decodes
        once and hands the result to every macro).

    Returns:
      A struct: files, objects_json (the FE rule decodes it: faster in a
      rule than in a macro), flagsets_json, units (list of struct: name,
      target, ldflags, whole, lazy, scripts, post_link_tool (string or
      None), post_link_args, module ("" or dir/x.ko)), config, build_env,
      kconfig_files, modules (None, or a struct: modpost, builtin,
      finals_json, srcversion_json).
    """
    if type(kernel) == "struct":
        return kernel
    check_schema(kernel)
    units = []
    for u in kernel["units"]:
        post = u["post_link"]
        units.append(struct(
            name = u["name"],
            # vmlinux.o -> vmlinux_o: the unit's target.
            target = u["name"].replace(".", "_").replace("/", "_"),
            ldflags = u["ldflags"],
            whole = u["whole"],
            lazy = u["lazy"],
            scripts = u["scripts"],
            post_link_tool = post[0] if post else None,
            post_link_args = post[1:],
            module = u["module"],
        ))
    modules = kernel.get("modules")
    return struct(
        files = kernel["files"],
        modules = struct(
            modpost = modules["modpost"],
            builtin = modules["builtin"],
            finals_json = json.encode(modules["finals"]),
            srcversion_json = json.encode(modules["srcversion"]),
        ) if modules else None,
        objects_json = kernel["objects"],
        flagsets_json = json.encode(kernel["flagsets"]),
        units = units,
        config = kernel["config"],
        build_env = kernel["build_env"],
        kconfig_files = kernel["kconfig_files"],
    )
