"""What `bench.compare --modules` counts: the edits it makes, the modules
each side built, which of them have several objects, and which link unit
each BE action belongs to."""

import collections
import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Edit:
    """A one-line code change: `old` (once in `file`) becomes `new`.
    module: the module the file is part of ("" for vmlinux.o), built with
    config option `option`=m."""
    file: str
    old: str
    new: str
    module: str = ""
    option: str = ""


# getpid() returns one more: vmlinux.o.
KERNEL_EDIT = Edit("kernel/sys.c", "\treturn task_tgid_vnr(current);\n}",
                   "\treturn task_tgid_vnr(current) + 1;\n}")
# FUSE's control file `waiting` reads one more: fs/fuse/fuse.ko, nine
# objects (configs/bootable.config and configs/bench-modules.config have it).
MODULE_EDIT = Edit("fs/fuse/control.c",
                   '\tsize = sprintf(tmp, "%ld\\n", (long)file->private_data);',
                   '\tsize = sprintf(tmp, "%ld\\n", (long)file->private_data + 1);',
                   module="fs/fuse/fuse.ko", option="CONFIG_FUSE_FS")


def edited(text: str, e: Edit, undo: bool = False) -> str:
    """text with the edit made (or taken back).  Taking back an edit that
    is not there leaves the text as it is (a kept tree may have had only
    some of the edits); making one that does not apply is an error."""
    old, new = (e.new, e.old) if undo else (e.old, e.new)
    if undo and text.count(old) == 0 and text.count(new) == 1:
        return text
    if text.count(old) != 1:
        raise ValueError(f"{e.file}: the benchmark's edit does not apply")
    return text.replace(old, new)


def check_config(config: dict[str, str], e: Edit) -> None:
    """A config (CONFIG_X -> value) the module benchmark can run on: with
    modules, and the edit's module among them."""
    if config.get("CONFIG_MODULES") != "y":
        raise ValueError("this config has no CONFIG_MODULES")
    if e.option and config.get(e.option) != "m":
        raise ValueError(f"the module edit of {e.file} needs {e.option}=m "
                         f"({e.module}), which this config does not have")


def unit_target(name: str) -> str:
    """A link unit's Bazel target from its output or its module, as
    rules/private/schema.bzl names it: vmlinux.o -> vmlinux_o,
    fs/fuse/fuse.ko -> fs_fuse_fuse_o."""
    if name.endswith(".ko"):
        name = name[:-len(".ko")] + ".o"
    return name.replace(".", "_").replace("/", "_")


def unit_of_output(output: str, module: str) -> str:
    """The link unit (target) of a BE action, from its output path:
    <package>/<unit>_be/<module> (rules/private/backend.bzl)."""
    suffix = "/" + module
    d = os.path.basename(output[:-len(suffix)]) if output.endswith(suffix) else ""
    if not d.endswith("_be"):
        raise ValueError(f"{output}: not the BE output of {module} (<unit>_be/{module})")
    return d[:-len("_be")]


def backend_keys(pairs: list[tuple[str, str]]) -> list[str]:
    """A name for each BE action, given as (unit, object module): the
    module (kernel/sys.o), or unit:module where the module is in more than
    one unit (an object Kbuild links into two modules)."""
    units = collections.Counter(module for _, module in pairs)
    return [module if units[module] == 1 else f"{unit}:{module}" for unit, module in pairs]


def split_backends(units: dict[str, str]) -> tuple[list[str], list[str]]:
    """BE names (name -> unit target) split: vmlinux.o's, the modules'."""
    ours = sorted(k for k, u in units.items() if u == "vmlinux_o")
    return ours, sorted(k for k, u in units.items() if u != "vmlinux_o")


def backend_rows(units: dict[str, str], reruns: list[tuple[str, list[str]]]
                 ) -> list[tuple[str, int, int]]:
    """BE actions of vmlinux.o and of the modules (units: BE name -> its
    unit's target): all of them (the cold build), and those each edit
    (edited file, the BE it re-ran) re-ran."""
    ours, theirs = split_backends(units)
    rows = [("cold build (all)", len(ours), len(theirs))]
    for file, rerun in reruns:
        rows.append((f"re-run after the edit of {file}",
                     len(set(rerun).intersection(ours)), len(set(rerun).intersection(theirs))))
    return rows


def several_objects(objects: dict[str, list[str]]) -> list[str]:
    """The modules (module -> its objects) of more than one object."""
    return sorted(ko for ko, objs in objects.items() if len(objs) > 1)


def directories(objs: list[str]) -> list[str]:
    """The directories a module's objects are in, sorted."""
    return sorted({os.path.dirname(o) for o in objs})


def several_directories(objects: dict[str, list[str]]) -> dict[str, list[str]]:
    """module -> its directories, for the modules whose objects are in
    more than one."""
    return {ko: directories(objs) for ko, objs in sorted(objects.items())
            if len(directories(objs)) > 1}


def unit_members(kernel: dict) -> dict[str, list[str]]:
    """module -> its objects in link order, from a translation's kernel.bzl
    data (emit.read_kernel_bzl): what Bazel links into each module."""
    return {u["module"]: list(u["whole"]) + list(u["lazy"])
            for u in kernel["units"] if u.get("module")}


def installed(tree: str) -> list[str]:
    """The .ko files of a modules_install tree (INSTALL_MOD_PATH), as
    paths under its lib/modules/<release>/, sorted."""
    base = os.path.join(tree, "lib", "modules")
    found = []
    for dirpath, _, files in os.walk(base):
        for f in files:
            if f.endswith(".ko"):
                rel = os.path.relpath(os.path.join(dirpath, f), base)
                found.append(rel.split(os.sep, 1)[1])
    return sorted(found)


@dataclasses.dataclass(frozen=True)
class Side:
    """One side's modules: what it installed and each module's objects."""
    installed: list[str]
    objects: dict[str, list[str]]


def count_rows(ours: Side, theirs: Side) -> list[tuple[str, int, int]]:
    """The module figures side by side: (what, kthinlto, Kbuild)."""
    return [
        ("modules installed (.ko)", len(ours.installed), len(theirs.installed)),
        ("  of several objects", len(several_objects(ours.objects)),
         len(several_objects(theirs.objects))),
        ("  of objects in several directories", len(several_directories(ours.objects)),
         len(several_directories(theirs.objects))),
    ]
