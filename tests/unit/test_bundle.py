"""tools/kthinlto/bundle.py: reading bundles, and why one changed."""

import io
import tarfile

from tools.kthinlto import bundle


def make(path, members: dict[str, bytes]) -> str:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def test_read_names_imports_and_held_modules(tmp_path):
    path = make(tmp_path / "a.tar", {"k/a.o.thinlto.bc": b"I", "k/a.o.imports": b"k/a.o\nk/b.o\n",
                                      "k/b.o": b"B"})
    b = bundle.read(path, "k/a.o")
    assert b.imports == ("k/b.o",) and b.modules == ("k/b.o",)


def test_why_changed_names_index_import_list_and_imported_bitcode(tmp_path):
    base = {"a.o.thinlto.bc": b"I", "a.o.imports": b"b.o\n", "b.o": b"B"}
    before = bundle.member_digests(make(tmp_path / "0.tar", base))
    only_b = bundle.member_digests(make(tmp_path / "1.tar", {**base, "b.o": b"B2"}))
    index_b = bundle.member_digests(make(tmp_path / "2.tar", {**base, "a.o.thinlto.bc": b"J",
                                                               "b.o": b"B2"}))
    more = bundle.member_digests(make(tmp_path / "3.tar", {**base, "a.o.imports": b"b.o\nc.o\n",
                                                            "c.o": b"C"}))
    assert bundle.why_changed("a.o", before, before) == "unchanged"
    assert bundle.why_changed("a.o", before, only_b) == "imported bitcode of b.o"
    assert bundle.why_changed("a.o", before, index_b) == "index + imported bitcode of b.o"
    assert bundle.why_changed("a.o", before, more) == "import list + imported bitcode of c.o"
