"""Helpers shared by the benchmarks."""

import os
import shutil
import subprocess
import sys
import time

from bench import modules

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _announce(cmd: list[str]) -> None:
    print("bench: $ " + " ".join(cmd), file=sys.stderr, flush=True)


def timed(cmd: list[str], cwd: str | None = None) -> float:
    """Runs cmd (output to /dev/null, progress on stderr); wall seconds."""
    _announce(cmd)
    start = time.monotonic()
    subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def timed_stderr(cmd: list[str], cwd: str | None = None,
                 env: dict[str, str] | None = None) -> tuple[float, str]:
    """timed(), in environment env, and what cmd wrote on stderr (passed on
    to ours line by line as it comes)."""
    _announce(cmd)
    lines = []
    start = time.monotonic()
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, errors="replace") as proc:
        for line in proc.stderr:
            sys.stderr.write(line)
            lines.append(line)
    seconds = time.monotonic() - start
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return seconds, "".join(lines)


def copy_checkout(dest: str) -> None:
    """The tracked files of this repository: a checkout at another path."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.split(b"\0")
    for f in filter(None, files):
        rel = f.decode()
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(os.path.join(REPO, rel), os.path.join(dest, rel))


def copy_workspace(ws: str, dest: str) -> None:
    """A workspace at another path, as a fresh clone of the same files that
    declares the same kernels would be: all of it but Bazel's convenience
    links (bazel-*, into ws's output base)."""
    def links(d: str, names: list[str]) -> list[str]:
        return [n for n in names
                if d == ws and n.startswith("bazel-") and os.path.islink(os.path.join(d, n))]
    shutil.copytree(ws, dest, symlinks=True, ignore=links)


def edit(tree: str, e: modules.Edit, undo: bool = False) -> None:
    """Makes one of the benchmark's one-line edits (or takes it back)."""
    path = os.path.join(tree, e.file)
    with open(path) as f:
        text = f.read()
    try:
        new = modules.edited(text, e, undo)
    except ValueError as err:
        raise SystemExit(f"{path}: {err}") from None
    if new == text:
        return
    with open(path + ".new", "w") as f:
        f.write(new)
    os.replace(path + ".new", path)  # a new inode: the shared tree is untouched
