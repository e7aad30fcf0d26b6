"""What a comparison with Kbuild reads of an object or module: its symbols
and its .modinfo, each by one rule (tests/e2e and bench.compare use these).

Example:
  from tools.kthinlto import elf
  elf.module_differences({"fs/fuse/fuse.ko": ours}, {"fs/fuse/fuse.ko": theirs})
"""

import collections
import os
import re
import subprocess
import tempfile

from tools.kthinlto.kbuild import Toolchain

# ThinLTO promotes module-local symbols to globals named NAME.llvm.<hash of
# the module's bitcode>.  The bitcode names its source file, which Kbuild
# passes by absolute path and Bazel by execroot-relative path, so the hash
# differs while the symbol is the same one.
PROMOTED = re.compile(r"\.llvm\.[0-9]+")


def parse_nm(out: str) -> collections.Counter:
    """(type, name) -> count of llvm-nm's lines, the promoted suffix masked."""
    result = collections.Counter()
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 2:
            result[(words[-2], PROMOTED.sub("", words[-1]))] += 1
    return result


def symbols(path: str, defined_only: bool = True) -> collections.Counter:
    """(type, name) of an object's symbols, with how many times each occurs,
    as llvm-nm prints them, ThinLTO's promoted-local suffix masked.

    The one rule every comparison with Kbuild uses: the type's case is kept.
    Upper or lower case is the binding (T global, t local), and a symbol the
    distributed thin link left global where Kbuild's in-process link made it
    local (or the reverse) is a real difference: another module could bind
    to it.
    """
    cmd = [Toolchain().tool("llvm-nm")] + (["--defined-only"] if defined_only else [])
    return parse_nm(subprocess.run(cmd + [path], check=True, capture_output=True,
                                   text=True).stdout)


def parse_modinfo(section: bytes) -> dict[str, list[str]]:
    """A .modinfo section's NUL-separated key=value fields: key -> values,
    in order."""
    info: dict[str, list[str]] = {}
    for field in section.split(b"\0"):
        if field:
            key, _, value = field.decode().partition("=")
            info.setdefault(key, []).append(value)
    return info


def modinfo(path: str) -> dict[str, list[str]]:
    """The .modinfo section of a .ko: key -> values, in order."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "modinfo")
        subprocess.run([Toolchain().tool("llvm-objcopy"), "-O", "binary",
                        "--only-section=.modinfo", path, out], check=True)
        with open(out, "rb") as f:
            return parse_modinfo(f.read())


def module_differences(ours: dict[str, str], theirs: dict[str, str]) -> list[str]:
    """How each module (name -> .ko path) differs from Kbuild's: one line
    per module whose set differs, or whose symbols (defined and undefined,
    binding kept) or whole modinfo (values in order) differ; [] if none."""
    lines = []
    if sorted(ours) != sorted(theirs):
        lines.append(f"modules: ours only {sorted(set(ours) - set(theirs))}, "
                     f"Kbuild's only {sorted(set(theirs) - set(ours))}")
    for name in sorted(set(ours) & set(theirs)):
        a, b = symbols(ours[name], defined_only=False), symbols(theirs[name], defined_only=False)
        if a != b:
            lines.append(f"{name}: symbols: ours only {sorted((a - b).elements())[:5]}, "
                         f"Kbuild's only {sorted((b - a).elements())[:5]}")
        mi, mt = modinfo(ours[name]), modinfo(theirs[name])
        if mi != mt:
            keys = sorted(k for k in set(mi) | set(mt) if mi.get(k) != mt.get(k))
            lines.append(f"{name}: modinfo: " + "; ".join(
                f"{k} ours {mi.get(k)} Kbuild's {mt.get(k)}" for k in keys))
    return lines
