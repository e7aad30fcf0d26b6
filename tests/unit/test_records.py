"""tools/kthinlto/records.py: the shim's record files."""

import pytest

from tools.kthinlto import records
from tools.kthinlto.records import Compile, Record, TranslationError

OBJ = "/k/obj"


def encode(kind, cwd, *argv):
    """A record as shim.sh writes it: NUL-terminated fields."""
    return b"".join(f.encode() + b"\0" for f in (kind, cwd, *argv))


def write_rec(directory, name, data):
    path = directory / name
    path.write_bytes(data)
    return path


def compile_record(kind, out, source, cwd=OBJ, extra=()):
    return Record(kind, cwd, ("-Os", *extra, "-c", "-o", out, source))


# parse_record

def test_parse_record_splits_kind_cwd_and_argv():
    rec = records.parse_record(encode("bitcode", OBJ, "-c", "-o", "a.o", "/k/src/a.c"))
    assert rec == Record("bitcode", OBJ, ("-c", "-o", "a.o", "/k/src/a.c"))


def test_parse_record_keeps_empty_last_argument():
    rec = records.parse_record(encode("native", OBJ, "-c", ""))
    assert rec.argv == ("-c", "")


def test_parse_record_with_no_argv():
    assert records.parse_record(encode("link", OBJ)) == Record("link", OBJ, ())


def test_parse_record_truncated_after_kind_raises():
    with pytest.raises(TranslationError, match="truncated"):
        records.parse_record(b"bitcode\0")


def test_parse_record_empty_raises():
    with pytest.raises(TranslationError, match="truncated"):
        records.parse_record(b"")


# read_records

def test_read_records_reads_rec_files_in_name_order(tmp_path):
    write_rec(tmp_path, "b.rec", encode("link", OBJ, "-r"))
    write_rec(tmp_path, "a.rec", encode("bitcode", OBJ, "x.c"))
    assert records.read_records(str(tmp_path)) == [
        Record("bitcode", OBJ, ("x.c",)), Record("link", OBJ, ("-r",))]


def test_read_records_ignores_files_not_named_rec(tmp_path):
    # shim.sh leaves mktemp's placeholder and writes NAME.tmp before renaming.
    write_rec(tmp_path, "XXXX", b"")
    write_rec(tmp_path, "XXXX.tmp", b"half")
    write_rec(tmp_path, "XXXX.rec", encode("native", OBJ, "a.S"))
    assert records.read_records(str(tmp_path)) == [Record("native", OBJ, ("a.S",))]


def test_read_records_raises_on_truncated_file(tmp_path):
    write_rec(tmp_path, "a.rec", encode("bitcode", OBJ, "x.c"))
    write_rec(tmp_path, "b.rec", b"bitcode")
    with pytest.raises(TranslationError):
        records.read_records(str(tmp_path))


# option_value

def test_option_value_returns_last_value():
    assert records.option_value(("-o", "a.o", "-o", "b.o"), "-o") == "b.o"


def test_option_value_is_none_when_absent_or_dangling():
    assert records.option_value(("-c", "x.c"), "-o") is None
    assert records.option_value(("x.c", "-o"), "-o") is None


# compiles

def test_compiles_keys_bitcode_and_native_compiles_by_output():
    recs = [compile_record("bitcode", "kernel/umh.o", "/k/src/kernel/umh.c"),
            compile_record("native", "arch/x86/entry/entry_64.o",
                           "/k/src/arch/x86/entry/entry_64.S")]
    result = records.compiles(recs, OBJ)
    assert result == {
        "kernel/umh.o": Compile("kernel/umh.o", "/k/src/kernel/umh.c",
                                recs[0].argv, True),
        "arch/x86/entry/entry_64.o": Compile(
            "arch/x86/entry/entry_64.o", "/k/src/arch/x86/entry/entry_64.S",
            recs[1].argv, False),
    }


def test_compiles_makes_output_objtree_relative_from_record_cwd():
    recs = [compile_record("native", "./pasyms.o", "/k/src/arch/x86/rm/pasyms.S",
                           cwd="/k/obj/arch/x86/rm")]
    assert list(records.compiles(recs, OBJ)) == ["arch/x86/rm/pasyms.o"]


def test_compiles_ignores_links_initcalls_and_compiles_without_output_or_source():
    recs = [Record("link", OBJ, ("-r", "-o", "vmlinux.o", "vmlinux.a")),
            Record("initcalls", OBJ, ("gen.pl", "vmlinux.a")),
            Record("bitcode", OBJ, ("-c", "/k/src/a.c")),
            Record("bitcode", OBJ, ("-c", "-o", "b.o", "-Os"))]
    assert records.compiles(recs, OBJ) == {}


def test_compiles_last_record_for_an_output_wins():
    recs = [compile_record("bitcode", "a.o", "/k/src/a.c", extra=("-DFIRST",)),
            compile_record("native", "a.o", "/k/src/a.c", extra=("-DSECOND",))]
    result = records.compiles(recs, OBJ)
    assert "-DSECOND" in result["a.o"].argv
    assert result["a.o"].bitcode is False


# single

def test_single_returns_the_only_record_of_a_kind():
    link = Record("link", OBJ, ("-r",))
    assert records.single([Record("bitcode", OBJ, ()), link], "link") is link


def test_single_raises_when_kind_missing():
    with pytest.raises(TranslationError, match="saw 0"):
        records.single([Record("bitcode", OBJ, ())], "link")


def test_single_raises_when_kind_repeated():
    with pytest.raises(TranslationError, match="saw 2"):
        records.single([Record("link", OBJ, ()), Record("link", OBJ, ())], "link")
