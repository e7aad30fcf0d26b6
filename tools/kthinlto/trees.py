"""Translations kept in the cache: one per distinct input, reused, pruned.

A translation lives in KTHINLTO_CACHE/trees/<key>, where the key covers
everything the translation depends on: the kernel source (the digest of a
pinned or tarball source, or a fingerprint of a tree's files), the
architecture, the config target and the contents of the config files, the
KCFLAGS, the translator's own files and the LLVM it runs.  Translating the
same inputs again, from any workspace, reuses that tree.  Each Bazel kernel
repository (in any output base) that links to a tree is recorded in it, so
that `--prune` can drop the trees no repository links to any more:

  python3 -m tools.kthinlto.trees --prune     # or: ./kthin prune
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys

_TOOLS = os.path.dirname(os.path.abspath(__file__))
# The rules' schema is part of what a translation writes.
_SCHEMA = os.path.join(os.path.dirname(os.path.dirname(_TOOLS)), "rules", "private", "schema.bzl")
COMPLETE = "complete"   # written last: the tree may be used
USERS = "users"         # one Bazel repository directory per line
PHASES = "phases.json"  # seconds of each phase of the translation, in order
INPUTS = "inputs.json"  # its inputs and paths (tools/kthinlto/incremental.py)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: str) -> str:
    with open(path, "rb") as f:
        return _digest(f.read())


# What a translation runs and reads of tools/kthinlto: the modules that
# configure.py imports (a unit test checks the list against its imports),
# the shim and the pins.  boot.py, execlog.py, bundle.py and the action
# tools are not part of it: a change to them translates nothing again.
TRANSLATOR_FILES = ("arches.py", "autoconf.py", "compile_commands.py", "configure.py", "contract.py",
                    "declaration.py", "deps.py", "emit.py", "flags.py", "graph.py",
                    "incremental.py", "kbuild.py", "records.py", "scan_cache.py",
                    "shared_cache.py", "source.py", "trees.py", "shim.sh", "sources.json")


def translator_digest() -> str:
    """Of the translator's own files (TRANSLATOR_FILES and the rules'
    schema): any change translates again."""
    h = hashlib.sha256()
    for path in [os.path.join(_TOOLS, n) for n in sorted(TRANSLATOR_FILES)] + [_SCHEMA]:
        h.update(os.path.basename(path).encode() + b"\0" + open(path, "rb").read() + b"\0")
    return h.hexdigest()


def tree_fingerprint(srctree: str, cache_dir: str) -> str:
    """What identifies a source tree's content.

    A tree extracted into the cache (src/<digest>/...) is named by its
    tarball's digest; any other tree by the path, size and modification
    time of every file in it.
    """
    real = os.path.realpath(srctree)
    if is_extracted(srctree, cache_dir):
        return "extracted:" + os.path.relpath(real, os.path.join(os.path.realpath(cache_dir), "src"))
    h = hashlib.sha256(real.encode())
    for root, dirs, files in os.walk(real):
        dirs.sort()
        for name in sorted(files):
            st = os.lstat(os.path.join(root, name))
            h.update(f"{os.path.relpath(os.path.join(root, name), real)}\0"
                     f"{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return "tree:" + h.hexdigest()


def is_extracted(srctree: str, cache_dir: str) -> bool:
    """Whether srctree is one the translator extracted (src/<digest>/...)."""
    extracted = os.path.join(os.path.realpath(cache_dir), "src") + os.sep
    return os.path.realpath(srctree).startswith(extracted)


def llvm_identity(clang: str) -> str:
    """clang's version line and where it really is."""
    out = subprocess.run([clang, "--version"], capture_output=True, text=True).stdout
    path = shutil.which(clang) or clang
    return f"{os.path.realpath(path)}: {out.splitlines()[0] if out else ''}"


def translation_key(inputs: dict) -> str:
    """The tree name for a translation's inputs (a JSON-able dict)."""
    return _digest(json.dumps(inputs, sort_keys=True).encode())[:24]


def is_complete(tree: str) -> bool:
    return os.path.isfile(os.path.join(tree, COMPLETE))


def mark_complete(tree: str) -> None:
    with open(os.path.join(tree, COMPLETE), "w") as f:
        f.write("")


@contextlib.contextmanager
def locked(tree: str):
    """Serializes translations of the same key (concurrent configures)."""
    os.makedirs(os.path.dirname(tree), exist_ok=True)
    with open(tree + ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def drop_lock(tree: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tree + ".lock")


def record_user(tree: str, repository: str) -> None:
    """Notes that a Bazel repository directory links into tree."""
    path = os.path.join(tree, USERS)
    users = set(_read_lines(path))
    if repository not in users:
        with open(path, "a") as f:
            f.write(repository + "\n")


def _read_lines(path: str) -> list[str]:
    try:
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def _points_into(repository: str, tree: str) -> bool:
    """Whether the repository (still) links to the tree's translation."""
    linked = os.path.join(repository, "kernel.bzl")
    if not os.path.lexists(linked):
        return False
    return os.path.realpath(linked).startswith(os.path.realpath(tree) + os.sep)


def unused(cache_dir: str) -> list[str]:
    """Trees no recorded repository links into (sorted paths)."""
    trees = os.path.join(cache_dir, "trees")
    if not os.path.isdir(trees):
        return []
    result = []
    for name in sorted(os.listdir(trees)):
        tree = os.path.join(trees, name)
        if name.endswith(".lock") or not os.path.isdir(tree):
            continue
        if not any(_points_into(p, tree) for p in _read_lines(os.path.join(tree, USERS))):
            result.append(tree)
    return result


def prune(cache_dir: str) -> list[str]:
    """Removes the unused trees; returns them."""
    gone = unused(cache_dir)
    for tree in gone:
        shutil.rmtree(tree, ignore_errors=True)
        drop_lock(tree)
    return gone


def main(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prune", action="store_true",
                        help="remove the translations no Bazel repository links to")
    parser.add_argument("--cache_dir", default=os.environ.get("KTHINLTO_CACHE")
                        or os.path.expanduser("~/.cache/kthinlto"))
    args = parser.parse_args(argv)
    for tree in (prune if args.prune else unused)(args.cache_dir):
        print(("removed " if args.prune else "unused ") + tree)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
