"""Incremental translation: Kbuild's recorded pass resumed from an earlier one.

A new kernel version that changed a few files, or a configuration that
changed a few options, leaves most of an earlier translation's object tree
valid.  Kbuild itself knows what to redo (its saved commands, dependency
lists and per-option timestamps), provided its tree looks as if it had been
built here:

1. seed(): the earlier translation's object tree (and its probe cache) is
   copied into the new one, its tokens (kbuild.normalize_paths) made this
   translation's paths, so every saved command is the one Kbuild computes
   here.  make compares times, not content: the copy is made newer than
   every source file, and each target whose saved source or dependency
   list names a file whose content differs between the two source trees is
   deleted, so make builds it again.  A changed configuration needs nothing
   more: Kbuild's syncconfig touches the timestamps of the options that
   changed.
2. The recorded make then runs (and records) only what Kbuild redoes;
   merge() adds the earlier translation's records of everything else.
3. The header scan reuses its per-object cache (scan_cache.py).

Which earlier translation: base() picks the newest complete one in
KTHINLTO_CACHE made by the same translator, LLVM, architecture and KCFLAGS
whose source tree still exists and is of the same kernel release series
(VERSION and PATCHLEVEL of the top Makefile: 6.1 is never resumed for
6.12): one of the same source first, then one of a tree at the same path
(edited since), then one of the same whole version (the Makefile's head).  Set
KTHINLTO_INCREMENTAL=off to translate from scratch.
"""

import json
import logging
import os
import shutil
import time

from tools.kthinlto import graph, kbuild, records, trees
from tools.kthinlto.records import Record

ENV = "KTHINLTO_INCREMENTAL"
# What must match for an earlier translation to be a base.
SAME = ("arch", "kcflags", "translator", "llvm")
SECOND = 1_000_000_000    # ns
MILLISECOND = 1_000_000


def write_inputs(work: str, inputs: dict, srctree: str,
                 earlier: list[tuple[str, str]] = ()) -> None:
    """Keeps a translation's inputs and paths in it, for base() to read;
    earlier: (work, srctree) of the translations it resumed (earlier())."""
    with open(os.path.join(work, trees.INPUTS), "w") as f:
        json.dump({"inputs": inputs, "work": work, "srctree": srctree,
                   "earlier": [list(e) for e in earlier]}, f, indent=1, sort_keys=True)


def earlier(base_tree: str) -> list[tuple[str, str]]:
    """(work, srctree) of base_tree and of every translation it resumed:
    paths the binaries of a tree resumed from it may name."""
    saved = _read_inputs(base_tree)
    out = [(saved["work"], saved["srctree"])]
    out += [tuple(e) for e in saved.get("earlier", []) if tuple(e) not in out]
    return out


def _read_inputs(tree: str) -> dict:
    with open(os.path.join(tree, trees.INPUTS)) as f:
        return json.load(f)


def _version(srctree: str) -> str:
    """VERSION, PATCHLEVEL, SUBLEVEL and EXTRAVERSION: the top Makefile's head."""
    try:
        with open(os.path.join(srctree, "Makefile")) as f:
            return "".join(f.readline() for _ in range(6))
    except OSError:
        return ""


def _series(version: str) -> str:
    """VERSION and PATCHLEVEL of a Makefile head (_version)."""
    return "".join(line for line in version.splitlines(keepends=True)
                   if line.startswith(("VERSION", "PATCHLEVEL")))


def base(cache_dir: str, inputs: dict, srctree: str, environ) -> str | None:
    """The earlier translation to start from (its directory), or None."""
    if environ.get(ENV) == "off":
        return None
    root = os.path.join(cache_dir, "trees")
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return None
    found = []
    for name in names:
        tree = os.path.join(root, name)
        try:
            got = _read_inputs(tree)["inputs"]
            done = os.stat(os.path.join(tree, trees.COMPLETE)).st_mtime
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if any(got.get(k) != inputs.get(k) for k in SAME):
            continue
        if not os.path.isdir(os.path.join(tree, "obj")) or not os.path.isdir(
                os.path.join(tree, "records")) or not os.path.isdir(source_of(tree)):
            continue
        version = _version(source_of(tree))
        if _series(version) != _series(_version(srctree)):
            continue
        found.append((got.get("source") == inputs.get("source"),
                      source_of(tree) == os.path.realpath(srctree),
                      version == _version(srctree), done, tree))
    return max(found)[-1] if found else None


def source_of(tree: str) -> str:
    """The source tree a translation was made from."""
    return os.path.realpath(os.path.join(tree, "gen", "src"))


class NoBase(Exception):
    """The earlier translation cannot be resumed here (the reason)."""


def changed_files(old: str, new: str) -> tuple[set[str], int]:
    """Files (srctree-relative) whose content differs between source trees
    old and new, or that only one has; and the newest modification time
    (ns) of the others in new."""
    changed, newest, seen = set(), 0, set()
    same_tree = os.path.realpath(old) == os.path.realpath(new)
    for root, dirs, files in os.walk(new):
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, new)
            st = os.lstat(path)
            seen.add(rel)
            if not same_tree:
                other = os.path.join(old, rel)
                try:
                    ost = os.lstat(other)
                except FileNotFoundError:
                    changed.add(rel)
                    continue
                if (ost.st_dev, ost.st_ino) != (st.st_dev, st.st_ino) and (
                        ost.st_size != st.st_size or not _same_bytes(path, other)):
                    changed.add(rel)
                    continue
            newest = max(newest, st.st_mtime_ns)
    if not same_tree:
        for root, dirs, files in os.walk(old):
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), old)
                if rel not in seen:
                    changed.add(rel)
    return changed, newest


def _same_bytes(a: str, b: str) -> bool:
    if os.path.islink(a) or os.path.islink(b):
        return os.path.islink(a) and os.path.islink(b) and os.readlink(a) == os.readlink(b)
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def seed(base_tree: str, work: str, srctree: str, owned: bool) -> set[str]:
    """Copies base_tree's object tree and probe cache into work (whose obj
    must not exist), as the module doc says.  owned: the source tree is
    the translator's own (extracted into KTHINLTO_CACHE), whose files'
    times it may change.  Raises NoBase if the times cannot be arranged.

    Times: make rebuilds a target older than a prerequisite.  The copy is
    moved (its order kept, a millisecond apart) to just after the newest
    source file whose content both trees share; every file whose content differs must then be
    newer than all of it: one that is not is touched (owned), or else the
    translation starts from scratch.  Returns the files whose content
    differs (srctree-relative).
    """
    start = time.monotonic()
    old_src = source_of(base_tree)
    changed, newest_same = changed_files(old_src, srctree)
    objtree = os.path.join(work, "obj")
    shutil.copytree(os.path.join(base_tree, "obj"), objtree, symlinks=True)
    probes = os.path.join(base_tree, "probes")
    if os.path.isdir(probes):
        shutil.copytree(probes, os.path.join(work, "probes"), dirs_exist_ok=True)
    swap = [(token.encode(), path.encode()) for path, token in kbuild.tree_paths(work, srctree)]
    mtimes: list[tuple[str, int]] = []
    for path in kbuild.tree_files(objtree):
        mtimes.append((path, os.stat(path).st_mtime_ns))
        with open(path, "rb") as f:
            data = f.read()
        if b"\0" in data or not any(old in data for old, _ in swap):
            continue
        for old, new in swap:
            data = data.replace(old, new)
        with open(path, "wb") as f:
            f.write(data)
    # In their order (equal times stay equal), a millisecond apart: a chain
    # of incremental translations does not stretch the window.
    rank = {m: i for i, m in enumerate(sorted({m for _, m in mtimes}))}
    first = newest_same + SECOND
    last = first + len(rank) * MILLISECOND
    now = time.time_ns()
    if last >= now - SECOND:
        raise NoBase("a source file the two trees share was changed in the last "
                     f"{(now - newest_same) / 1e9:.0f} s")
    for path, m in mtimes:
        os.utime(path, ns=(first + rank[m] * MILLISECOND,) * 2)
    late = [rel for rel in sorted(changed) if os.path.lexists(os.path.join(srctree, rel))
            and os.lstat(os.path.join(srctree, rel)).st_mtime_ns <= last]
    if late and not owned:
        raise NoBase(f"{len(late)} changed source files ({late[0]}, ...) are older "
                     "than the earlier translation; make would not redo them")
    for rel in late:
        os.utime(os.path.join(srctree, rel), ns=(now, now), follow_symlinks=False)
    logging.info("incremental: from %s (%s): %d source files differ (%.1f s)",
                 base_tree, "same source" if os.path.realpath(old_src) == os.path.realpath(srctree)
                 else old_src, len(changed), time.monotonic() - start)
    return changed


# What a configuration is made of besides the declaration's own inputs:
# Kconfig files, the defconfigs and fragments in the tree, what Kconfig
# runs (scripts/), and the top Makefile (the version .config records).
def _configures(rel: str) -> bool:
    return (os.path.basename(rel).startswith("Kconfig") or rel == "Makefile"
            or rel.startswith(("scripts/", "kernel/configs/"))
            or "/configs/" in rel)


def same_config(base_tree: str, inputs: dict, changed: set[str]) -> bool:
    """Whether the configuration base_tree made is the one inputs make:
    the same target, config files and architecture, and no file the
    configuration is made of changed (then Kbuild's config steps, which
    write .config, need not run again)."""
    got = _read_inputs(base_tree)["inputs"]
    return (all(got.get(k) == inputs.get(k) for k in ("arch", "target", "config_files"))
            and not any(_configures(rel) for rel in changed))


def base_records(base_tree: str, work: str, srctree: str) -> list[Record]:
    """base_tree's records, naming work's and srctree's paths."""
    saved = _read_inputs(base_tree)
    pairs = sorted({(p, new) for old, new in ((saved["work"], work), (saved["srctree"], srctree))
                    for p in (old, os.path.realpath(old))}, key=lambda p: -len(p[0]))

    def swap(s: str) -> str:
        for old, new in pairs:
            s = s.replace(old, new)
        return s
    return [Record(r.kind, swap(r.cwd), tuple(swap(a) for a in r.argv))
            for r in records.read_records(os.path.join(base_tree, "records"))]


def _key(r: Record, objtree: str) -> tuple[str, str]:
    out = records.option_value(r.argv, "-o")
    if out is None:
        return (r.kind, "")
    return (r.kind, os.path.normpath(os.path.relpath(os.path.join(r.cwd, out), objtree)))


def merge(old: list[Record], new: list[Record], objtree: str,
          modules: list[str]) -> list[Record]:
    """The records of a whole recorded make: new's, and old's for what make
    did not redo (by kind and output); no link of a module that is not in
    modules (Kbuild's modules.order) any more."""
    redone = {_key(r, objtree) for r in new}
    wanted = {"vmlinux.o"} | {m[:-len(".ko")] + ".o" for m in modules} | set(modules)
    out = []
    for r in [r for r in old if _key(r, objtree) not in redone] + list(new):
        kind, output = _key(r, objtree)
        if kind == "link" and graph.unit_name(output) not in wanted:
            continue
        out.append(r)
    return out


def write_records(log_dir: str, recs: list[Record]) -> None:
    """recs as the shim writes them, replacing log_dir's, in order."""
    shutil.rmtree(log_dir)
    os.makedirs(log_dir)
    for i, r in enumerate(recs):
        with open(os.path.join(log_dir, f"{i:06d}.rec"), "wb") as f:
            f.write(b"\0".join(s.encode("utf-8", "surrogateescape")
                               for s in (r.kind, r.cwd, *r.argv)) + b"\0")
