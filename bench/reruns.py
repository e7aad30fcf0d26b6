"""Which BE actions a build ran, from their outputs on disk.

The bench times its builds without an execution log (Bazel 4.2.3 writes one
with every input of every action, a cost Kbuild's side does not pay); it
tells which BE actions ran from which BE outputs are new files, and how each
re-run BE's object differs from the one it replaced.
"""

import os
import re
import shutil
import subprocess

from tools.kthinlto.kbuild import Toolchain


def stamps(outputs: dict[str, str]) -> dict[str, tuple[int, int] | None]:
    """Module -> (inode, mtime) of its BE output (outputs: module -> the
    path of its BE output; None if missing)."""
    result = {}
    for module, path in outputs.items():
        try:
            st = os.stat(path)
            result[module] = (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            result[module] = None
    return result


def rewritten(before: dict[str, tuple[int, int] | None],
              after: dict[str, tuple[int, int] | None]) -> list[str]:
    """The modules whose BE output is a new file: Bazel deletes an action's
    outputs before it runs it and leaves a cache hit's untouched, so these
    are the BE actions that ran (the bench uses no remote or disk cache)."""
    return sorted(m for m in after if after[m] is None or after[m] != before.get(m))


def save_outputs(outputs: dict[str, str], dest: str) -> None:
    """Copies every BE output to dest/<module> (untimed, before the edit
    build): Bazel deletes a re-run action's old output, and the bench wants
    to compare it with the new one.  A copy, not a hard link: a link would
    change the output's ctime, which Bazel takes for a modified output."""
    for module, path in outputs.items():
        target = os.path.join(dest, module)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            shutil.copyfile(path, target)
        except FileNotFoundError:
            pass


def _defined_and_undefined(path: str, nm: str) -> list[str]:
    out = subprocess.run([nm, "--no-sort", "-j", path], check=True,
                         capture_output=True, text=True).stdout
    return sorted(out.split())


# The name ThinLTO gives a local symbol it promotes to global so other
# modules can import or call it: name.llvm.<decimal hash of its module>.
_PROMOTED = re.compile(r"\.llvm\.\d+$")


def output_change(old: str, new: str, nm: str = Toolchain().nm) -> str:
    """How a re-run BE's new object differs from its old one, in words."""
    with open(old, "rb") as a, open(new, "rb") as b:
        if a.read() == b.read():
            return "same bytes"
    before, after = _defined_and_undefined(old, nm), _defined_and_undefined(new, nm)
    if before == after:
        return "same symbols, other bytes"
    if [_PROMOTED.sub(".llvm.N", s) for s in before] == [_PROMOTED.sub(".llvm.N", s) for s in after]:
        return "symbols differ only in promoted locals' .llvm.<module hash>"
    return "symbols changed"


def output_changes(rerun: list[str], saved: str, outputs: dict[str, str],
                   nm: str = Toolchain().nm) -> dict[str, list[str]]:
    """For each re-run BE: how its object changed -> the objects."""
    result: dict[str, list[str]] = {}
    for module in rerun:
        old, new = os.path.join(saved, module), outputs[module]
        if not os.path.exists(old) or not os.path.exists(new):
            how = "no object before or after"
        else:
            how = output_change(old, new, nm)
        result.setdefault(how, []).append(module)
    return result
