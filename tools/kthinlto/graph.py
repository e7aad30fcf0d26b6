"""The kernel's vmlinux.o as data: objects, their flags and inputs, link order.

Pure functions from what Kbuild recorded to a `Kernel`, which emit.py turns
into the Bazel graph.
"""

import dataclasses
import os
import shlex

from tools.kthinlto import flags
from tools.kthinlto.records import Compile, Record, TranslationError, single


@dataclasses.dataclass(frozen=True)
class Object:
    """One member of vmlinux.a or of a lib.a.

    path: objtree-relative object path (kernel/sys.o); bitcode: compiled with
    -flto=thin (else native: assembly or -fno-lto); source: relocated source
    (%{src}/kernel/sys.c); flags: relocated compile flags; inputs: relocated
    files the compile reads (source and headers); lazy: a lib.a member that
    the final link only pulls in on demand; prebuilt: an object Kbuild made
    with another tool than $(CC) during translation (arm64's objcopy'd
    .pi.o), taken as built: source is then the object itself.
    """
    path: str
    bitcode: bool
    source: str
    flags: tuple[str, ...]
    inputs: tuple[str, ...]
    lazy: bool
    prebuilt: bool = False


@dataclasses.dataclass(frozen=True)
class Link:
    """The vmlinux.o link as Kbuild runs it.

    ldflags: KBUILD_LDFLAGS (everything but -r, -o, -T and the archives);
    whole: whole-archive member paths in link order; lazy: lib.a member
    paths in link order; objtool_args: arguments of `objtool ... vmlinux.o`
    (None when Kbuild runs no objtool); initcalls: whether Kbuild orders
    initcalls with scripts/generate_initcall_order.pl.
    """
    ldflags: tuple[str, ...]
    whole: tuple[str, ...]
    lazy: tuple[str, ...]
    objtool_args: tuple[str, ...] | None
    initcalls: bool


def parse_link(argv: tuple[str, ...], members) -> Link:
    """Splits the recorded `ld.lld ... -r -o vmlinux.o ...` command.

    members(archive) -> list of member paths.
    """
    ldflags, whole, lazy = [], [], []
    whole_mode = False
    initcalls = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-o", "-T"):
            if a == "-T" and argv[i + 1].endswith(".tmp_initcalls.lds"):
                initcalls = True
            elif a == "-T":
                raise TranslationError(
                    f"vmlinux.o link uses linker script {argv[i + 1]}; only "
                    "Kbuild's .tmp_initcalls.lds is supported")
            i += 2
            continue
        if a == "--whole-archive":
            whole_mode = True
        elif a == "--no-whole-archive":
            whole_mode = False
        elif a in ("--start-group", "--end-group", "-r"):
            pass
        elif a.endswith((".a", ".o")) and not a.startswith("-"):
            files = members(a) if a.endswith(".a") else [os.path.normpath(a)]
            (whole if whole_mode else lazy).extend(files)
        else:
            ldflags.append(a)
        i += 1
    return Link(tuple(ldflags), tuple(whole), tuple(lazy), None, initcalls)


def parse_objtool(saved_cmd: str) -> tuple[str, ...] | None:
    """objtool arguments from Kbuild's saved `cmd_vmlinux.o := ld ...; objtool ...`."""
    _, _, cmd = saved_cmd.partition(":=")
    for part in cmd.split(";")[1:]:
        words = shlex.split(part)
        if words and words[0].endswith("objtool/objtool"):
            if words[-1] != "vmlinux.o":
                raise TranslationError(f"unexpected objtool command: {part.strip()}")
            return tuple(words[1:-1])
    return None


def build_objects(link: Link, compiles: dict[str, Compile],
                  inputs: dict[str, list[str]], srctree: str,
                  objtree: str) -> list[Object]:
    result = []
    seen = set()
    for lazy, paths in ((False, link.whole), (True, link.lazy)):
        for path in paths:
            if path in seen:
                raise TranslationError(f"{path} is linked twice into vmlinux.o")
            seen.add(path)
            c = compiles.get(path)
            if c is None and os.path.isfile(os.path.join(objtree, path)):
                # Made by another tool from objects Kbuild compiled natively
                # (arm64's `objcopy --prefix-symbols=__pi_`): real machine
                # code from the translation, like the vDSO blob.
                result.append(Object(
                    path=path, bitcode=False,
                    source=flags.relocate_path(os.path.join(objtree, path),
                                               srctree, objtree),
                    flags=(), inputs=(), lazy=lazy, prebuilt=True))
                continue
            if c is None:
                raise TranslationError(
                    f"{os.path.join(objtree, path)} is linked into vmlinux.o "
                    "but Kbuild did not compile it with $(CC); objects made "
                    "another way are not supported yet")
            fe_flags = flags.frontend_flags(c.argv, srctree, objtree)
            if not c.bitcode:
                fe_flags.append(flags.ASSEMBLER_OBJTREE)
            result.append(Object(
                path=path, bitcode=c.bitcode,
                source=flags.relocate_path(c.source, srctree, objtree),
                flags=tuple(fe_flags),
                inputs=tuple(inputs[path]), lazy=lazy))
    return result


def host_paths(objs: list[Object], link: Link, srctree: str, objtree: str) -> list[str]:
    """Flags that still name a host path after relocation (must be none)."""
    bad = []
    for o in objs:
        for f in o.flags:
            if srctree in f or objtree in f:
                bad.append(f"{o.path}: {f}")
    for f in link.ldflags + (link.objtool_args or ()):
        if srctree in f or objtree in f:
            bad.append(f"vmlinux.o: {f}")
    return bad


def link_from_records(records: list[Record], members) -> Link:
    return parse_link(single(records, "link").argv, members)
