"""The kernel as data: objects (each compiled once) and link units.

Pure functions from what Kbuild recorded to `Object`s and `LinkUnit`s, which
emit.py turns into the Bazel graph.  A link unit is one relocatable link
(`ld.lld -r`) of objects: vmlinux.o today; a module's .o is another.
"""

import dataclasses
import os
import shlex

from tools.kthinlto import flags
from tools.kthinlto.records import Compile, Record, TranslationError, single


@dataclasses.dataclass(frozen=True)
class Object:
    """One object some link unit links, compiled once.

    path: objtree-relative object path (kernel/sys.o), its key; bitcode:
    compiled with -flto=thin (else native: assembly or -fno-lto); source:
    relocated source (%{src}/kernel/sys.c); flags: relocated compile flags;
    inputs: relocated files the compile reads (source and headers);
    prebuilt: an object Kbuild made with another tool than $(CC) during
    translation (arm64's objcopy'd .pi.o), taken as built: source is then
    the object itself.
    """
    path: str
    bitcode: bool
    source: str
    flags: tuple[str, ...]
    inputs: tuple[str, ...]
    prebuilt: bool = False


# The linker scripts a link unit may use: Kbuild generates them, so the
# rules do too.  name -> the file Kbuild passes to -T.
GENERATED_SCRIPTS = {"initcalls": ".tmp_initcalls.lds"}


@dataclasses.dataclass(frozen=True)
class LinkUnit:
    """One relocatable link (`ld.lld -r`) as Kbuild runs it.

    name: its output, objtree-relative (vmlinux.o); ldflags: its flags
    (everything but -r, -o, -T and the inputs); whole: members linked
    whole, in link order; lazy: members linked on demand (lib.a members,
    --start-lib), in link order; scripts: the generated linker scripts it
    takes with -T (names in GENERATED_SCRIPTS); post_link: the command run
    on the output in place after the link, the output's path appended
    (objtool --link for vmlinux.o, objtool --module for a module),
    relocated, or () for none; module: the loadable module Kbuild makes
    of the output (fs/fuse/fuse.ko), or "" (vmlinux.o).
    """
    name: str
    ldflags: tuple[str, ...]
    whole: tuple[str, ...]
    lazy: tuple[str, ...]
    scripts: tuple[str, ...] = ()
    post_link: tuple[str, ...] = ()
    module: str = ""

    @property
    def members(self) -> tuple[str, ...]:
        return self.whole + self.lazy


# Kbuild links a module of one object to dir/.tmp_x.o, then renames it to
# the object's own name, dir/x.o (cmd_ld_single_m in scripts/Makefile.build).
_TMP_PREFIX = ".tmp_"


def parse_link(argv: tuple[str, ...], members, response=None) -> LinkUnit:
    """Splits a recorded `ld.lld ... -r -o OUT ...` command.

    members(archive) -> list of member paths; response(file) -> the
    objects an @file argument lists (a module's .mod file).
    """
    ldflags, whole, lazy, scripts = [], [], [], []
    whole_mode = False
    name = ""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-o":
            name = os.path.normpath(argv[i + 1])
            i += 2
            continue
        if a == "-T":
            script = [k for k, f in GENERATED_SCRIPTS.items() if argv[i + 1].endswith(f)]
            if not script:
                raise TranslationError(
                    f"{name or 'a'} link uses linker script {argv[i + 1]}; kthinlto "
                    f"generates only Kbuild's {', '.join(GENERATED_SCRIPTS.values())}")
            scripts.extend(script)
            i += 2
            continue
        if a == "--whole-archive":
            whole_mode = True
        elif a == "--no-whole-archive":
            whole_mode = False
        elif a in ("--start-group", "--end-group", "-r"):
            pass
        elif a.startswith("@") and response is not None:
            # A module's .mod file: its objects, each linked like a file
            # named on the command line.
            whole.extend(os.path.normpath(f) for f in response(a[1:]))
        elif a.endswith(".a") and not a.startswith("-"):
            (whole if whole_mode else lazy).extend(members(a))
        elif a.endswith(".o") and not a.startswith("-"):
            # An object named as a file is always linked: --whole-archive
            # and --start-group concern archives only.
            whole.append(os.path.normpath(a))
        else:
            ldflags.append(a)
        i += 1
    return LinkUnit(unit_name(name or "vmlinux.o"), tuple(ldflags), tuple(whole), tuple(lazy),
                    tuple(scripts))


def unit_name(output: str) -> str:
    """The link unit a relocatable link's output is (dir/.tmp_x.o: dir/x.o)."""
    head, tail = os.path.split(os.path.normpath(output))
    if tail.startswith(_TMP_PREFIX):
        tail = tail[len(_TMP_PREFIX):]
    return os.path.join(head, tail)


# Where Kbuild's objtool is, relocated (the translation builds it).
OBJTOOL = flags.OBJ + "/tools/objtool/objtool"


def parse_objtool(saved_cmd: str, name: str = "vmlinux.o") -> tuple[str, ...]:
    """The post-link step of a unit from Kbuild's saved command
    (`cmd_vmlinux.o := ld ...; objtool ARGS vmlinux.o`): objtool and its
    arguments (relocated; the unit's output is appended), or ()."""
    _, _, cmd = saved_cmd.partition(":=")
    for part in cmd.split(";")[1:]:
        words = shlex.split(part)
        if words and words[0].endswith("objtool/objtool"):
            if words[-1] != name:
                raise TranslationError(f"unexpected objtool command: {part.strip()}")
            return (OBJTOOL, *words[1:-1])
    return ()


def build_objects(units: list[LinkUnit], compiles: dict[str, Compile],
                  inputs: dict[str, list[str]], srctree: str,
                  objtree: str, extra: tuple[str, ...] = ()) -> list[Object]:
    """Every object the units link, once each, in the order the units
    first link them, then the extra objects (modfinal's, linked into
    every .ko: ModuleFinal.common)."""
    result = []
    made = set()
    for unit in [*units, LinkUnit("modfinal", (), tuple(extra), ())]:
        if len(set(unit.members)) != len(unit.members):
            twice = sorted(p for p in unit.members if unit.members.count(p) > 1)[0]
            raise TranslationError(f"{twice} is linked twice into {unit.name}")
        for path in unit.members:
            if path in made:
                continue
            made.add(path)
            c = compiles.get(path)
            if c is None and os.path.isfile(os.path.join(objtree, path)):
                # Made by another tool from objects Kbuild compiled natively
                # (arm64's `objcopy --prefix-symbols=__pi_`): real machine
                # code from the translation, like the vDSO blob.
                result.append(Object(
                    path=path, bitcode=False,
                    source=flags.relocate_path(os.path.join(objtree, path),
                                               srctree, objtree),
                    flags=(), inputs=(), prebuilt=True))
                continue
            if c is None:
                raise TranslationError(
                    f"{os.path.join(objtree, path)} is linked into {unit.name} "
                    "but Kbuild did not compile it with $(CC); objects made "
                    "another way are not supported yet")
            fe_flags = flags.frontend_flags(c.argv, srctree, objtree)
            if not c.bitcode:
                fe_flags.append(flags.ASSEMBLER_OBJTREE)
            result.append(Object(
                path=path, bitcode=c.bitcode,
                source=flags.relocate_path(c.source, srctree, objtree),
                flags=tuple(fe_flags),
                inputs=tuple(sorted(inputs[path]))))
    return result


def host_paths(objs: list[Object], units: list[LinkUnit], srctree: str,
               objtree: str, steps: "ModuleSteps | None" = None) -> list[str]:
    """Flags and commands that still name a host path after relocation
    (must be none)."""
    bad = []
    if steps:
        for cmd in (steps.modpost, *steps.builtin):
            if srctree in cmd or objtree in cmd:
                bad.append(f"modules: {cmd}")
        for final in steps.finals:
            for f in final.cflags + final.ldflags:
                if srctree in f or objtree in f:
                    bad.append(f"{final.module}: {f}")
    for o in objs:
        for f in o.flags:
            if srctree in f or objtree in f:
                bad.append(f"{o.path}: {f}")
    for unit in units:
        for f in unit.ldflags + unit.post_link:
            if srctree in f or objtree in f:
                bad.append(f"{unit.name}: {f}")
    return bad


def units_from_records(records: list[Record], members, response=None,
                       modules: list[str] = ()) -> list[LinkUnit]:
    """Every relocatable link Kbuild ran: vmlinux.o, then the modules in
    Kbuild's order.

    members(archive) and response(file) as parse_link takes them; modules:
    Kbuild's modules.order (dir/x.ko, objtree-relative).
    """
    links = {}
    for r in records:
        if r.kind == "link" and not is_ko_link(r.argv):
            unit = parse_link(r.argv, members, response)
            links[unit.name] = unit
    if "vmlinux.o" not in links:
        single(records, "link")   # raises, naming what is missing
    units = [links.pop("vmlinux.o")]
    for ko in modules:
        unit = links.pop(ko[:-len(".ko")] + ".o", None)
        if unit is None:
            raise TranslationError(
                f"{ko} is in modules.order but Kbuild linked no {ko[:-3]}.o; "
                "was the translation's Kbuild run stopped early?")
        units.append(dataclasses.replace(unit, module=ko))
    if links:
        raise TranslationError(
            f"Kbuild linked {sorted(links)[0]} with ld -r, which is neither "
            "vmlinux.o nor a module in modules.order; kthinlto does not "
            "know where it goes")
    return units


@dataclasses.dataclass(frozen=True)
class ModuleFinal:
    """Kbuild's modfinal for one module (scripts/Makefile.modfinal): the
    .mod.c that modpost wrote compiled to .mod.o, then the .ko linked from
    the module's object and that .mod.o.

    module: the .ko, objtree-relative (fs/fuse/fuse.ko); cflags: the .mod.o
    compile's flags, relocated (as Object.flags: no -c, -o, source or dep
    file); inputs: relocated files that compile reads besides the .mod.c
    (which the modpost action writes); ldflags: the .ko link's arguments
    without -o, -T and its objects, relocated; script: the linker
    script it takes with -T, relocated (%{obj}/scripts/module.lds);
    common: the objects modfinal compiled once and links into every .ko
    after the .mod.o, objtree-relative, in link order (6.12's
    .module-common.o), FE objects like every other.
    """
    module: str
    cflags: tuple[str, ...]
    inputs: tuple[str, ...]
    ldflags: tuple[str, ...]
    script: str
    common: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ModuleSteps:
    """What Kbuild does after the modules' link units, as it saved it.

    modpost: the shell command of Kbuild's modpost (its saved
    .Module.symvers.cmd, run in the object tree: reads modules.order,
    vmlinux.o and each module's object; writes Module.symvers and each
    .mod.c); builtin: the shell commands that make modules.builtin.modinfo
    and modules.builtin from vmlinux.o, in order (Makefile.vmlinux_o's,
    saved); finals: one per module, in modules.order.
    """
    modpost: str
    builtin: tuple[str, ...]
    finals: tuple[ModuleFinal, ...]
    # What modpost reads for srcversion (srcversion_inputs): stand-in .cmd
    # files (objtree-relative path, text) and relocated files.
    srcversion_cmds: tuple[tuple[str, str], ...] = ()
    srcversion_files: tuple[str, ...] = ()


def is_ko_link(argv: tuple[str, ...]) -> bool:
    """Whether a recorded link is modfinal's .ko link (-o dir/x.ko)."""
    out = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-o"]
    return bool(out) and out[-1].endswith(".ko")


def parse_ko_link(argv: tuple[str, ...], srctree: str,
                  objtree: str) -> tuple[str, tuple[str, ...], str, tuple[str, ...]]:
    """A recorded .ko link -> (module, ldflags, script, objects): flags
    and script relocated, objects objtree-relative in link order."""
    ldflags, objects = [], []
    module = script = ""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-o", "-T") and i + 1 < len(argv):
            if a == "-o":
                module = os.path.normpath(argv[i + 1])
            else:
                script = flags.relocate_path(argv[i + 1], srctree, objtree)
            i += 2
            continue
        if a.endswith(".o") and not a.startswith("-"):
            objects.append(os.path.normpath(a))
        else:
            ldflags.append(flags.relocate_path(a, srctree, objtree)
                           if a.startswith("/") else a)
        i += 1
    return module, tuple(ldflags), script, tuple(objects)


def module_finals(records: list[Record], compiles: dict[str, Compile],
                  units: list[LinkUnit], inputs: dict[str, list[str]],
                  srctree: str, objtree: str) -> tuple[ModuleFinal, ...]:
    """Each module unit's modfinal as Kbuild ran it, in the units' order.

    compiles: every recorded compile (the .mod.o ones among them); inputs:
    the relocated files each compile reads (deps.scan).
    """
    links = {}
    for r in records:
        if r.kind == "link" and is_ko_link(r.argv):
            module, ldflags, script, objects = parse_ko_link(r.argv, srctree, objtree)
            links[module] = (ldflags, script, objects)
    finals = []
    for unit in units:
        if not unit.module:
            continue
        stem = unit.module[:-len(".ko")]
        if unit.module not in links:
            raise TranslationError(
                f"Kbuild's modfinal linked no {unit.module}; was the translation's "
                "Kbuild run stopped early?")
        ldflags, script, objects = links.pop(unit.module)
        if objects[:2] != (unit.name, stem + ".mod.o") or not script:
            raise TranslationError(
                f"{unit.module}: Kbuild linked it as `-T {script or '?'}` from "
                f"{' '.join(objects)}; kthinlto expects -T SCRIPT {unit.name} {stem}.mod.o, "
                "then objects shared by every module")
        c = compiles.get(stem + ".mod.o")
        if c is None:
            raise TranslationError(f"Kbuild's modfinal did not compile {stem}.mod.o")
        source = flags.relocate_path(c.source, srctree, objtree)
        finals.append(ModuleFinal(
            module=unit.module,
            cflags=tuple(flags.frontend_flags(c.argv, srctree, objtree)),
            inputs=tuple(p for p in inputs[c.output] if p != source),
            ldflags=ldflags, script=script, common=objects[2:]))
    if links:
        raise TranslationError(
            f"Kbuild linked {sorted(links)[0]}, which is no module of modules.order")
    return tuple(finals)


# How a stand-in .cmd names a file for modpost, which runs in the object
# tree: objtree files by their relative path, source files through the
# tree's `source` link (Kbuild's O= trees have one).
_SRCVERSION_ROOTS = ((flags.SRC + "/", "source/"), (flags.OBJ + "/", ""))


def srcversion_path(relocated: str) -> str:
    """%{src}/fs/fuse/inode.c -> source/fs/fuse/inode.c; %{obj}/x -> x."""
    for token, prefix in _SRCVERSION_ROOTS:
        if relocated.startswith(token):
            return prefix + relocated[len(token):]
    raise ValueError(f"not a relocated path: {relocated}")


def srcversion_inputs(units: list[LinkUnit], compiles: dict[str, Compile],
                      inputs: dict[str, list[str]], srctree: str,
                      objtree: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """What Kbuild's modpost reads to sum a module's sources (its
    srcversion, scripts/mod/sumversion.c): the module's .mod (its objects),
    and per object its .cmd: the `source_` file, then each `deps_` file in
    the object's own directory, in the compiler's order (fixdep's).

    The translation's own .cmd files list no header (the shim compiles
    nothing), so a stand-in is made per object from the header scan.
    Returns (stand-ins: (objtree-relative .cmd path, text), the relocated
    files modpost reads: each .mod, sources and headers).
    """
    cmds, files = [], []
    for unit in units:
        if not unit.module:
            continue
        files.append(flags.OBJ + "/" + unit.module[:-len(".ko")] + ".mod")
        for obj in unit.members:
            c = compiles.get(obj)
            if c is None:
                continue
            head, tail = os.path.split(obj)
            source = flags.relocate_path(c.source, srctree, objtree)
            local = [p for p in inputs.get(obj, ()) if p != source and
                     os.path.dirname(srcversion_path(p).removeprefix("source/")) == head]
            lines = [f"source_{obj} := {srcversion_path(source)}", "", f"deps_{obj} := \\"]
            lines += [f"  {srcversion_path(p)} \\" for p in local]
            cmds.append((os.path.join(head, f".{tail}.cmd"), "\n".join(lines) + "\n\n"))
            files += [source, *local]
    return tuple(cmds), tuple(dict.fromkeys(files))
