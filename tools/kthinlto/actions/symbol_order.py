"""A module link's global symbols in the order Kbuild's link inserts them.

  python3 symbol_order.py --nm=LLVM_NM --out=FILE --member=FILE... --linked=FILE...
                                         (or @PARAMS: one argument a line)

Kbuild's in-process ThinLTO link of a module (`ld.lld -r` over the module's
bitcode and native objects) enters each input's global symbols into lld's
symbol table in input order, a bitcode input's in its IR symbol table's
order; the output's symbol table keeps that order.  modpost lists a
module's dependencies (modinfo `depends`) in the order of its undefined
symbols, so that order is part of what a module is.  The distributed link
reads native BE outputs instead, whose symbol tables are in code
generation's order.

--member: the unit's members as the FE made them (bitcode or native), in
Kbuild's link order; --linked: what the relocatable link reads.  Writes
to FILE, a response file for ld.lld, one `--undefined=SYMBOL` a line: the
members' global symbols, in Kbuild's order, that the linked objects define
or reference strongly (lld enters -u symbols before any input: the output
then has Kbuild's order; a symbol only weakly referenced is left out, as
-u would make the reference strong, and so is one no linked object has, as
-u would add it).  Stdlib only: an action tool, run by the toolchain's
declared interpreter.
"""

import argparse
import subprocess
import sys


def globals_of(nm_output: str) -> list[tuple[str, str]]:
    """(type, name) of each global symbol `llvm-nm -p` printed, in order
    (upper-case types, and w/v: weak references and weak objects)."""
    result = []
    for line in nm_output.splitlines():
        words = line.split()
        if len(words) < 2 or len(words[-2]) != 1:
            continue
        kind, name = words[-2], words[-1]
        if kind.isupper() or kind in "wv":
            result.append((kind, name))
    return result


def order(members: list[list[tuple[str, str]]], linked: list[list[tuple[str, str]]]) -> list[str]:
    """The members' global names, first occurrence first, kept when a
    linked object defines them or references them strongly."""
    strong = {name for symbols in linked for kind, name in symbols if kind not in "wv"}
    seen, result = set(), []
    for symbols in members:
        for _, name in symbols:
            if name in strong and name not in seen:
                seen.add(name)
                result.append(name)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, fromfile_prefix_chars="@",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nm", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--member", action="append", default=[])
    parser.add_argument("--linked", action="append", default=[])
    args = parser.parse_args(argv)

    def symbols(path: str) -> list[tuple[str, str]]:
        proc = subprocess.run([args.nm, "-p", path], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"kthinlto: {args.nm} -p {path} failed: {proc.stderr.strip()}")
        return globals_of(proc.stdout)
    names = order([symbols(p) for p in args.member], [symbols(p) for p in args.linked])
    with open(args.out, "w") as f:
        f.write("".join(f"--undefined={n}\n" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
