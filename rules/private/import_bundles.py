#!/usr/bin/env python3
"""Thin-link launcher: runs ld.lld, then lays out each object's import bundle.

  import_bundles.py MANIFEST LD @PARAMS

MANIFEST has one line per bitcode object: its bitcode path, its .imports
path and its bundle directory (a tree artifact), tab-separated.  After the
thin link, each bundle gets the object's own bitcode and exactly the bitcode
its .imports file lists, at the same execroot-relative paths the index names,
so the backend (run inside the bundle) finds them and declares nothing else.
Hard links where possible, copies otherwise.  Stdlib only: an action tool.
"""

import os
import shutil
import subprocess
import sys


def fail(msg: str) -> None:
    print(f"kthinlto thin link: error: {msg}", file=sys.stderr)
    sys.exit(1)


def read_manifest(path: str) -> list[tuple[str, str, str]]:
    with open(path) as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]


def imported_modules(imports_path: str) -> list[str]:
    with open(imports_path) as f:
        return [line.strip() for line in f if line.strip()]


def place(src: str, bundle: str) -> None:
    dst = os.path.join(bundle, src)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(os.path.realpath(src), dst)
    except OSError:
        shutil.copyfile(src, dst)


def main(argv: list[str]) -> int:
    manifest, ld_cmd = argv[1], argv[2:]
    proc = subprocess.run(ld_cmd)
    if proc.returncode != 0:
        return proc.returncode
    entries = read_manifest(manifest)
    known = {bitcode for bitcode, _, _ in entries}
    for bitcode, imports, bundle in entries:
        os.makedirs(bundle, exist_ok=True)
        place(bitcode, bundle)
        for module in imported_modules(imports):
            if module not in known:
                fail(f"{imports} names {module}, which is not a bitcode "
                     f"object of this build (importer: {bitcode})")
            if module != bitcode:
                place(module, bundle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
