"""Helpers shared by the benchmarks."""

import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd: list[str], cwd: str | None = None) -> float:
    """Runs cmd (output to /dev/null, progress on stderr); wall seconds."""
    print("bench: $ " + " ".join(cmd), file=sys.stderr, flush=True)
    start = time.monotonic()
    subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def copy_checkout(dest: str) -> None:
    """The tracked files of this repository: a checkout at another path."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.split(b"\0")
    for f in filter(None, files):
        rel = f.decode()
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(os.path.join(REPO, rel), os.path.join(dest, rel))
