"""tools/kthinlto/incremental.py on synthetic trees (the real kernel:
tests/e2e/test_incremental_translation.py)."""

import json
import os
import shutil
import time

import pytest

from tools.kthinlto import incremental, kbuild, records, trees
from tools.kthinlto.records import Record

OBJ = "/w/obj"


def _rec(kind, out, *rest):
    return Record(kind, OBJ, ("clang-19", *rest, "-o", out))


def test_merge_takes_what_make_redid_and_the_rest_from_before():
    old = [_rec("bitcode", "kernel/a.o", "-c", "a.c"), _rec("bitcode", "kernel/b.o", "-c", "b.c"),
           _rec("link", "vmlinux.o"), _rec("link", "fs/x.o"), _rec("link", "fs/x.ko"),
           _rec("link", "fs/y.o"), _rec("link", "lib/.tmp_z.o"), _rec("link", "lib/z.ko"),
           _rec("initcalls", "-")]
    new = [_rec("bitcode", "kernel/b.o", "-c", "b.c", "-DNEW"), _rec("link", "vmlinux.o", "-r")]
    merged = incremental.merge(old, new, OBJ, ["fs/y.ko", "lib/z.ko"])
    by = {(r.kind, records.option_value(r.argv, "-o")): r for r in merged}
    # A module of one object links to dir/.tmp_x.o first (Kbuild's rename).
    assert set(by) == {("bitcode", "kernel/a.o"), ("bitcode", "kernel/b.o"), ("link", "vmlinux.o"),
                       ("link", "fs/y.o"), ("link", "lib/.tmp_z.o"), ("link", "lib/z.ko"),
                       ("initcalls", "-")}
    assert "-DNEW" in by[("bitcode", "kernel/b.o")].argv
    assert "-r" in by[("link", "vmlinux.o")].argv
    # The last compile of an output wins when read back (records.compiles).
    assert records.compiles(merged, OBJ)["kernel/b.o"].argv == new[0].argv


def test_write_records_reads_back_the_same(tmp_path):
    recs = [_rec("bitcode", "a.o", "-c", "a.c"), Record("initcalls", OBJ, ("perl", "x y", ""))]
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "123.rec").write_bytes(b"stale\0")
    incremental.write_records(str(tmp_path / "records"), recs)
    assert records.read_records(str(tmp_path / "records")) == recs


def _source(root, files):
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_changed_files_by_content_not_time(tmp_path):
    old = _source(tmp_path / "old", {"a.c": "a", "b.c": "b", "gone.c": "g", "same.c": "s"})
    new = _source(tmp_path / "new", {"a.c": "a", "b.c": "B", "added.c": "n"})
    os.link(old / "same.c", new / "same.c")
    os.utime(new / "a.c", ns=(5 * 10**9, 5 * 10**9))     # same bytes, another time
    os.utime(old / "same.c", ns=(7 * 10**9, 7 * 10**9))
    changed, newest = incremental.changed_files(str(old), str(new))
    assert changed == {"b.c", "added.c", "gone.c"}
    # The newest of the files both share: a.c's and same.c's times.
    assert newest == 7 * 10**9


def _base(tmp_path, src, inputs, obj_files):
    """A translation as _translate_into leaves it, at tmp_path/trees/k."""
    tree = tmp_path / "cache/trees/k"
    obj = tree / "obj"
    for rel, text in obj_files.items():
        p = obj / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (tree / "records").mkdir()
    (tree / "probes").mkdir()
    (tree / "probes" / "p").write_text("probe")
    (tree / "gen").mkdir()
    os.symlink(str(src), str(tree / "gen" / "src"))
    incremental.write_inputs(str(tree), inputs, str(src))
    trees.mark_complete(str(tree))
    return tree


INPUTS = {"arch": "x86_64", "kcflags": "", "translator": "t1", "llvm": "19", "source": "s1"}


def test_seed_puts_the_copy_between_shared_and_changed_sources(tmp_path):
    t0 = time.time_ns() - 3600 * 10**9
    old = _source(tmp_path / "old", {"a.c": "a", "b.c": "b"})
    new = _source(tmp_path / "new", {"a.c": "a", "b.c": "B"})
    for f in ("old/a.c", "old/b.c", "new/a.c", "new/b.c"):
        os.utime(tmp_path / f, ns=(t0, t0))
    base = _base(tmp_path, old, INPUTS, {
        "kernel/.a.o.cmd": f"cmd_kernel/a.o := clang {kbuild.TREE_TOKENS['srctree']}/a.c\n",
        "kernel/a.o": "A", "kernel/b.o": "B"})
    # Made a year ago, 10 s apart, the saved command with b.o.
    for rel, ago in (("a.o", 20), ("b.o", 10), (".a.o.cmd", 10)):
        os.utime(base / "obj/kernel" / rel, ns=(t0 - (365 * 86400 + ago) * 10**9,) * 2)
    work = tmp_path / "cache/trees/new"
    work.mkdir()
    # The changed file is as old as the shared one: not the translator's
    # tree, so it cannot make make see it.
    with pytest.raises(incremental.NoBase, match="1 changed source files"):
        incremental.seed(str(base), str(work), str(new), owned=False)
    for name in ("obj", "probes"):
        shutil.rmtree(work / name)
    incremental.seed(str(base), str(work), str(new), owned=True)
    obj = work / "obj"
    assert (obj / "kernel/.a.o.cmd").read_text() == f"cmd_kernel/a.o := clang {new}/a.c\n"
    assert (work / "probes" / "p").read_text() == "probe"
    m = {f: os.stat(obj / "kernel" / f).st_mtime_ns for f in ("a.o", "b.o", ".a.o.cmd")}
    # Newer than the shared source, in their order, equal times equal...
    assert t0 < m["a.o"] < m["b.o"] == m[".a.o.cmd"] < t0 + 2 * 10**9
    # ... and older than the changed one, touched.
    assert os.stat(new / "b.c").st_mtime_ns > max(m.values())
    assert os.stat(new / "a.c").st_mtime_ns == t0


def test_base_is_the_newest_of_the_same_translator_and_source_first(tmp_path, monkeypatch):
    src = _source(tmp_path / "src", {"a.c": "a"})
    cache = tmp_path / "cache"
    made = {}
    for name, changes in (("same_source", {}), ("newer_other_source", {"source": "s2"}),
                          ("other_translator", {"translator": "t0"}),
                          ("other_arch", {"arch": "arm64"})):
        tree = cache / "trees" / name
        (tree / "obj").mkdir(parents=True)
        (tree / "records").mkdir()
        (tree / "gen").mkdir()
        os.symlink(str(src), str(tree / "gen" / "src"))
        incremental.write_inputs(str(tree), dict(INPUTS, **changes), str(src))
        trees.mark_complete(str(tree))
        made[name] = tree
    os.utime(made["newer_other_source"] / trees.COMPLETE, ns=(time.time_ns() + 10**9,) * 2)
    assert incremental.base(str(cache), INPUTS, str(src), {}) == str(made["same_source"])
    assert incremental.base(str(cache), dict(INPUTS, source="s3"), str(src), {}) == str(
        made["newer_other_source"])
    assert incremental.base(str(cache), dict(INPUTS, translator="t9"), str(src), {}) is None
    assert incremental.base(str(cache), INPUTS, str(src), {incremental.ENV: "off"}) is None
    # A base whose source tree is gone is none.
    os.remove(made["same_source"] / "gen" / "src")
    assert incremental.base(str(cache), INPUTS, str(src), {}) == str(made["newer_other_source"])
    # An unfinished one neither.
    os.remove(made["newer_other_source"] / trees.COMPLETE)
    assert incremental.base(str(cache), INPUTS, str(src), {}) is None
    assert json.loads((made["other_arch"] / trees.INPUTS).read_text())["inputs"]["arch"] == "arm64"


def test_base_of_another_source_is_one_of_the_same_kernel_version(tmp_path):
    cache = tmp_path / "cache"
    made = {}
    for name, sub, age in (("same_version", "192", 100), ("newer_other_sublevel", "200", 50),
                           ("newest_other_series", None, 0)):
        head = (f"VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = {sub}\n" if sub else
                "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\n")
        src = _source(tmp_path / name, {"Makefile": head, "a.c": "a"})
        tree = cache / "trees" / name
        (tree / "obj").mkdir(parents=True)
        (tree / "records").mkdir()
        (tree / "gen").mkdir()
        os.symlink(str(src), str(tree / "gen" / "src"))
        incremental.write_inputs(str(tree), dict(INPUTS, source=name), str(src))
        trees.mark_complete(str(tree))
        os.utime(tree / trees.COMPLETE, ns=(time.time_ns() - age * 10**9,) * 2)
        made[name] = tree
    update = _source(tmp_path / "update", {"Makefile": "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\n",
                                            "a.c": "A"})
    assert incremental.base(str(cache), dict(INPUTS, source="update"), str(update), {}) == str(
        made["same_version"])
    # Another sublevel of the series, if that is all there is; never 6.12.
    shutil.rmtree(made["same_version"])
    assert incremental.base(str(cache), dict(INPUTS, source="update"), str(update), {}) == str(
        made["newer_other_sublevel"])
    shutil.rmtree(made["newer_other_sublevel"])
    assert incremental.base(str(cache), dict(INPUTS, source="update"), str(update), {}) is None


def test_earlier_names_every_translation_resumed_before(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    incremental.write_inputs(str(first), INPUTS, "/src/a")
    incremental.write_inputs(str(second), INPUTS, "/src/b", incremental.earlier(str(first)))
    assert incremental.earlier(str(second)) == [(str(second), "/src/b"), (str(first), "/src/a")]


def test_same_config_only_when_nothing_the_configuration_is_made_of_changed(tmp_path):
    tree = tmp_path / "base"
    tree.mkdir()
    inputs = dict(INPUTS, target="tinyconfig", config_files=["", "f1"])
    incremental.write_inputs(str(tree), inputs, "/src")
    assert incremental.same_config(str(tree), inputs, {"kernel/sys.c", "include/linux/x.h"})
    for rel in ("init/Kconfig", "arch/x86/Kconfig.debug", "arch/x86/configs/x86_64_defconfig",
                "kernel/configs/tiny.config", "scripts/Kconfig.include", "Makefile"):
        assert not incremental.same_config(str(tree), inputs, {rel}), rel
    assert not incremental.same_config(str(tree), dict(inputs, config_files=["", "f2"]), set())
    assert not incremental.same_config(str(tree), dict(inputs, target="defconfig"), set())
