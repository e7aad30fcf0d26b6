"""bench/bundles.py: what the import bundles weigh."""

import io
import os
import tarfile

from bench import bundles


def _bundle(path, members):
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_stats_count_copies_and_distinct_modules(tmp_path):
    b = {"a.o": str(tmp_path / "a.tar"), "b.o": str(tmp_path / "b.tar"),
         "c.o": str(tmp_path / "c.tar")}
    # a.o and b.o both import lib/slab.o (100 bytes); b.o also imports
    # c.o (10 bytes); c.o imports nothing.  Each holds its own index and list.
    _bundle(b["a.o"], {"a.o.thinlto.bc": b"i" * 7, "a.o.imports": b"lib/slab.o\n",
                       "lib/slab.o": b"s" * 100})
    _bundle(b["b.o"], {"b.o.thinlto.bc": b"i" * 7, "b.o.imports": b"lib/slab.o\nc.o\n",
                       "lib/slab.o": b"s" * 100, "c.o": b"c" * 10})
    _bundle(b["c.o"], {"c.o.thinlto.bc": b"i" * 7, "c.o.imports": b""})
    s = bundles.bundle_stats(b)
    assert s.files == 3
    assert s.bytes == sum(os.path.getsize(p) for p in b.values())
    assert s.imported_bytes == 210
    assert (s.distinct_modules, s.distinct_bytes) == (2, 110)
    assert s.top == ("lib/slab.o", 2, 100)
    line = bundles.format_stats(s)
    assert "copies of 2 distinct modules" in line
    assert "lib/slab.o, imported by 2 objects" in line


def test_no_bundles():
    s = bundles.bundle_stats({})
    assert (s.files, s.bytes, s.imported_bytes, s.distinct_modules) == (0, 0, 0, 0)


def test_a_be_named_apart_from_its_module_still_skips_its_own_members(tmp_path):
    # An object in two link units: each BE is named unit:module, and its
    # bundle's own index and import list are not imported bitcode.
    b = {"a_o:lib/shared.o": str(tmp_path / "a.tar")}
    _bundle(b["a_o:lib/shared.o"], {"lib/shared.o.thinlto.bc": b"i" * 7,
                                   "lib/shared.o.imports": b"lib/slab.o\n",
                                   "lib/slab.o": b"s" * 100})
    s = bundles.bundle_stats(b, {"a_o:lib/shared.o": "lib/shared.o"})
    assert (s.imported_bytes, s.distinct_modules) == (100, 1)
    assert bundles.bundle_stats(b).distinct_modules == 3
