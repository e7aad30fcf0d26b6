"""Initcall-ordering linker script from the objects' initcall listings.

  python3 initcall_order.py --out=OUT LISTING...   (or @PARAMS: one
                                                    argument per line)

What Kbuild's scripts/generate_initcall_order.pl writes (.tmp_initcalls.lds),
made in one process: the script runs `$NM --defined-only` once per object
(on defconfig that is 2 654 forks of perl, a shell and nm, about 5 s of both
cores at the moment the thin link needs them).  Here each LISTING is what
initcall_scan.sh kept of one object's `llvm-nm --defined-only` (its
__initcall__ lines), the listings in link order.

The rules are the script's:
  - a symbol `__initcall__<module>__<counter>_<line>_<function><level>`
    (level: early, rootfs, con or a digit, optionally followed by "s") is
    one initcall; within an object they are ordered by counter (the later
    of two equal counters wins), objects keep link order;
  - a line "<path>:" starts the next member of an archive;
  - one output section per level, levels sorted as strings; each lists
    `*(<section>..<module>__<counter>_<line>_<function>)` in that order.
The e2e suite checks the result byte for byte against Kbuild's own file.
Stdlib only: an action tool, run by the toolchain's declared interpreter.
"""

import argparse
import os
import re
import sys

# The script's two patterns, ASCII as perl reads bytes.
_INITCALL = re.compile(r"[a-z]\s+__initcall__(\S*)__(\d+)_(\d+)_(.*)$", re.ASCII)
_LEVEL = re.compile(r"^(.*)((early|rootfs|con|[0-9])s?)$", re.ASCII)
_MEMBER = re.compile(r"^(.+):$")


class InitcallError(Exception):
    pass


def initcalls(name: str, lines: list[str]) -> list[tuple[str, str]]:
    """(level, section suffix) of each initcall in one object's listing
    (or each member's, for an archive), in the order the script writes them."""
    out: list[tuple[str, str]] = []
    found: dict[str, tuple[str, str, str, str]] = {}

    def flush() -> None:
        for counter in sorted(found, key=int):
            module, line, function, level = found[counter]
            out.append((level, f"{module}__{counter}_{line}_{function}"))
        found.clear()

    for text in lines:
        if _MEMBER.match(text):
            flush()
            continue
        m = _INITCALL.search(text)
        if not m:
            continue
        module, counter, line, symbol = m.groups()
        lv = _LEVEL.match(symbol)
        if not lv:
            raise InitcallError(f"{name}: invalid initcall name {symbol}")
        found[counter] = (module, line, lv.group(1), lv.group(2))
    flush()
    return out


def section(level: str) -> str:
    return ".con_initcall.init" if level == "con" else f".initcall{level}.init"


def linker_script(listings: list[tuple[str, list[str]]]) -> str:
    """The .tmp_initcalls.lds text for (name, lines) listings in link order."""
    levels: dict[str, list[str]] = {}
    for name, lines in listings:
        for level, suffix in initcalls(name, lines):
            levels.setdefault(level, []).append(suffix)
    if not levels:
        raise InitcallError("no initcalls in any object (is this a kernel's object list?)")
    text = ["SECTIONS {\n"]
    for level in sorted(levels):
        sec = section(level)
        text.append(f"\t{sec} : {{\n")
        text.extend(f"\t\t*({sec}..{suffix}) ;\n" for suffix in levels[level])
        text.append("\t}\n")
    text.append("}\n")
    return "".join(text)


def read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return f.read().splitlines()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="initcall_order.py", fromfile_prefix_chars="@",
        description="Writes Kbuild's .tmp_initcalls.lds from initcall listings.")
    parser.add_argument("--out", required=True, help="the linker script to write")
    parser.add_argument("listings", nargs="+", help="initcall_scan.sh listings, in link order")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        text = linker_script([(p, read_lines(p)) for p in args.listings])
    except (InitcallError, OSError) as e:
        print(f"kthinlto initcall order: error: {e}", file=sys.stderr)
        return 1
    with open(args.out + ".tmp", "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(text)
    os.replace(args.out + ".tmp", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
