"""Reads what the shim (shim.sh) recorded while Kbuild ran.

Each record is one file of NUL-separated fields: kind, cwd, argv...
Kinds: `bitcode` and `native` (compiles), `link` (the vmlinux.o link) and
`initcalls` (the call of scripts/generate_initcall_order.pl).
"""

import dataclasses
import os

from tools.kthinlto import flags


class TranslationError(Exception):
    """A problem with the user's input or Kbuild's run; str() is one line."""


@dataclasses.dataclass(frozen=True)
class Record:
    kind: str
    cwd: str
    argv: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Compile:
    """One object file as Kbuild compiles it."""
    output: str          # objtree-relative path of the object, e.g. kernel/sys.o
    source: str          # the source argument as Kbuild passed it
    argv: tuple[str, ...]  # compiler arguments, without the compiler itself
    bitcode: bool        # True for -flto=thin compiles


def parse_record(data: bytes) -> Record:
    fields = data.split(b"\0")
    if fields and fields[-1] == b"":
        fields.pop()
    if len(fields) < 2:
        raise TranslationError("truncated shim record")
    text = [f.decode("utf-8", "surrogateescape") for f in fields]
    return Record(kind=text[0], cwd=text[1], argv=tuple(text[2:]))


def read_records(log_dir: str) -> list[Record]:
    out = []
    for name in sorted(os.listdir(log_dir)):
        if name.endswith(".rec"):
            with open(os.path.join(log_dir, name), "rb") as f:
                out.append(parse_record(f.read()))
    return out


def option_value(argv: tuple[str, ...] | list[str], option: str) -> str | None:
    """The value of the last `option VALUE` pair in argv."""
    value = None
    for i, a in enumerate(argv[:-1]):
        if a == option:
            value = argv[i + 1]
    return value


def compiles(records: list[Record], objtree: str) -> dict[str, Compile]:
    """Compile records keyed by objtree-relative output path (last one wins)."""
    result = {}
    for r in records:
        if r.kind not in ("bitcode", "native"):
            continue
        out = option_value(r.argv, "-o")
        src_index = flags.source_index(r.argv)
        if out is None or src_index < 0:
            continue
        path = os.path.normpath(os.path.relpath(os.path.join(r.cwd, out), objtree))
        result[path] = Compile(output=path, source=r.argv[src_index], argv=r.argv,
                               bitcode=r.kind == "bitcode")
    return result


def single(records: list[Record], kind: str) -> Record:
    found = [r for r in records if r.kind == kind]
    if len(found) != 1:
        raise TranslationError(
            f"expected one {kind} step from Kbuild, saw {len(found)}; "
            "is this a kernel with CONFIG_LTO_CLANG_THIN (6.1 or newer)?")
    return found[0]
