"""tools/kthinlto/deps.py: make-style dependency output and .incbin scanning."""

import json
import os
import stat

import pytest

from tools.kthinlto import deps
from tools.kthinlto.records import Compile, TranslationError

SRC = "/k/src"


def compile_of(output, source, bitcode=True, extra=()):
    argv = ("-Wp,-MMD,dep.d", *extra, "-c", "-o", output, source)
    return Compile(output=output, source=source, argv=argv, bitcode=bitcode)


def fake_scan_deps(tmp_path, stdout, rc=0, stderr=""):
    """An executable standing in for clang-scan-deps: prints fixed output."""
    (tmp_path / "out.txt").write_text(stdout)
    (tmp_path / "err.txt").write_text(stderr)
    script = tmp_path / "clang-scan-deps"
    script.write_text(f"#!/bin/sh\ncat '{tmp_path}/out.txt'\n"
                      f"cat '{tmp_path}/err.txt' >&2\nexit {rc}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def scan(tmp_path, objs, stdout, **kw):
    objtree = tmp_path / "obj"
    work = tmp_path / "work"
    objtree.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    return deps.scan(objs, "clang-19", fake_scan_deps(tmp_path, stdout, **kw),
                     str(objtree), SRC, str(work), 1), str(objtree), str(work)


# parse_make_deps

def test_parse_make_deps_joins_continuation_lines():
    text = ("kernel/umh.o: /k/src/kernel/umh.c \\\n"
            "  /k/src/include/linux/kconfig.h \\\n"
            "  include/generated/autoconf.h\n")
    assert deps.parse_make_deps(text) == [
        ("kernel/umh.o", ["/k/src/kernel/umh.c", "/k/src/include/linux/kconfig.h",
                          "include/generated/autoconf.h"])]


def test_parse_make_deps_returns_blocks_of_several_targets_in_order():
    text = ("b.o: b.c \\\n  b.h\n"
            "a.o: a.c\n")
    assert deps.parse_make_deps(text) == [("b.o", ["b.c", "b.h"]),
                                          ("a.o", ["a.c"])]


def test_parse_make_deps_target_alone_on_first_line():
    text = "a.o: \\\n  a.c \\\n  a.h\n"
    assert deps.parse_make_deps(text) == [("a.o", ["a.c", "a.h"])]


def test_parse_make_deps_target_without_dependencies():
    assert deps.parse_make_deps("a.o:\n") == [("a.o", [])]


def test_parse_make_deps_unescapes_spaces_in_paths():
    assert deps.parse_make_deps("a.o: dir/with\\ space.h b.h\n") == [
        ("a.o", ["dir/with space.h", "b.h"])]


def test_parse_make_deps_skips_lines_without_colon():
    assert deps.parse_make_deps("\nnoise\na.o: a.c\n") == [("a.o", ["a.c"])]


# compilation_database

def test_compilation_database_prepends_compiler_and_drops_depfile_option():
    c = compile_of("kernel/umh.o", "/k/src/kernel/umh.c", extra=("-Os",))
    assert deps.compilation_database([c], "clang-19", "/k/obj") == [{
        "directory": "/k/obj",
        "arguments": ["clang-19", "-Os", "-c", "-o", "kernel/umh.o",
                      "/k/src/kernel/umh.c"],
        "file": "/k/src/kernel/umh.c",
        "output": "kernel/umh.o",
    }]


# scan (with a fake clang-scan-deps)

def test_scan_returns_relocated_inputs_per_object_once_in_the_compilers_order(tmp_path):
    out = ("kernel/umh.o: /k/src/kernel/umh.c \\\n"
           "  include/generated/autoconf.h /k/src/include/linux/kconfig.h \\\n"
           "  /k/src/kernel/umh.c\n")
    c = compile_of("kernel/umh.o", "/k/src/kernel/umh.c")
    result, _, _ = scan(tmp_path, [c], out)
    assert result == {"kernel/umh.o": [
        "%{src}/kernel/umh.c", "%{obj}/include/generated/autoconf.h",
        "%{src}/include/linux/kconfig.h"]}


def test_scan_writes_compilation_database_for_scan_deps(tmp_path):
    c = compile_of("kernel/umh.o", "/k/src/kernel/umh.c")
    _, objtree, work = scan(tmp_path, [c], "kernel/umh.o: /k/src/kernel/umh.c\n")
    with open(os.path.join(work, "compile_commands.json")) as f:
        db = json.load(f)
    assert db == deps.compilation_database([c], "clang-19", objtree)


def test_scan_matches_assembly_temporary_target_by_its_source(tmp_path):
    # A .S file is preprocessed into a temporary .s which becomes the target.
    c = compile_of("arch/x86/entry/entry_64.o", "/k/src/arch/x86/entry/entry_64.S",
                   bitcode=False)
    out = ("/tmp/entry_64-1a2b.s: /k/src/arch/x86/entry/entry_64.S \\\n"
           "  /k/src/include/linux/linkage.h\n")
    result, _, _ = scan(tmp_path, [c], out)
    assert result == {"arch/x86/entry/entry_64.o": [
        "%{src}/arch/x86/entry/entry_64.S", "%{src}/include/linux/linkage.h"]}


def test_scan_rejects_header_outside_both_trees(tmp_path):
    c = compile_of("kernel/umh.o", "/k/src/kernel/umh.c")
    out = "kernel/umh.o: /k/src/kernel/umh.c /usr/include/stdio.h\n"
    with pytest.raises(TranslationError, match="/usr/include/stdio.h"):
        scan(tmp_path, [c], out)


def test_scan_raises_naming_object_without_dependencies(tmp_path):
    c = compile_of("kernel/umh.o", "/k/src/kernel/umh.c")
    with pytest.raises(TranslationError, match="kernel/umh.o"):
        scan(tmp_path, [c], "kernel/other.o: /k/src/kernel/other.c\n")


def test_scan_raises_with_stderr_tail_when_scan_deps_fails(tmp_path):
    c = compile_of("kernel/umh.o", "/k/src/kernel/umh.c")
    with pytest.raises(TranslationError, match="fatal: no such header"):
        scan(tmp_path, [c], "", rc=1, stderr="fatal: no such header\n")


# incbin_files

def test_incbin_files_lists_unique_paths_sorted():
    text = ('\t.section .rodata\n'
            '\t.incbin "arch/x86/boot/compressed/vmlinux.bin.gz"\n'
            '  .incbin   "kernel/config_data.gz"\n'
            '\t.incbin "arch/x86/boot/compressed/vmlinux.bin.gz"\n'
            '\t.ascii "not/an/incbin"\n')
    assert deps.incbin_files(text) == ["arch/x86/boot/compressed/vmlinux.bin.gz",
                                       "kernel/config_data.gz"]


def test_incbin_files_is_empty_without_incbin():
    assert deps.incbin_files('.globl x\nx: .long 0\n') == []


# scan_incbin (with a fake compiler)

def fake_compiler(tmp_path, stdout, rc=0, stderr=""):
    """An executable standing in for clang: logs its argv and cwd, prints stdout."""
    (tmp_path / "cc-out.txt").write_text(stdout)
    (tmp_path / "cc-err.txt").write_text(stderr)
    script = tmp_path / "fake-clang"
    script.write_text("#!/bin/sh\n"
                      f"pwd > '{tmp_path}/cc-cwd.txt'\n"
                      f"printf '%s\\n' \"$@\" > '{tmp_path}/cc-args.txt'\n"
                      f"cat '{tmp_path}/cc-out.txt'\n"
                      f"cat '{tmp_path}/cc-err.txt' >&2\nexit {rc}\n")
    script.chmod(0o755)
    return str(script)


def objtree_with(tmp_path, *files):
    objtree = tmp_path / "obj"
    for rel in files:
        (objtree / rel).parent.mkdir(parents=True, exist_ok=True)
        (objtree / rel).write_bytes(b"\0")
    objtree.mkdir(exist_ok=True)
    return str(objtree)


PIGGY = compile_of("arch/x86/boot/compressed/piggy.o",
                   "/k/src/arch/x86/boot/compressed/piggy.S", bitcode=False)


def test_scan_incbin_returns_relocated_incbin_files_of_native_assembly(tmp_path):
    objtree = objtree_with(tmp_path, "kernel/config_data.gz")
    cc = fake_compiler(tmp_path, '.incbin "kernel/config_data.gz"\n')
    assert deps.scan_incbin([PIGGY], cc, objtree, SRC) == {
        PIGGY.output: ["%{obj}/kernel/config_data.gz"]}


def test_scan_incbin_preprocesses_in_objtree_to_stdout(tmp_path):
    objtree = objtree_with(tmp_path)
    cc = fake_compiler(tmp_path, "")
    deps.scan_incbin([PIGGY], cc, objtree, SRC)
    assert (tmp_path / "cc-cwd.txt").read_text().strip() == os.path.realpath(objtree)
    assert (tmp_path / "cc-args.txt").read_text().splitlines() == [
        "/k/src/arch/x86/boot/compressed/piggy.S", "-E", "-o", "-"]


def test_scan_incbin_skips_bitcode_and_c_objects(tmp_path):
    objtree = objtree_with(tmp_path, "blob")
    cc = fake_compiler(tmp_path, '.incbin "blob"\n')
    objs = [compile_of("a.o", "/k/src/a.S", bitcode=True),
            compile_of("b.o", "/k/src/b.c", bitcode=False)]
    assert deps.scan_incbin(objs, cc, objtree, SRC) == {}
    assert not (tmp_path / "cc-args.txt").exists()


def test_scan_incbin_omits_objects_without_incbin(tmp_path):
    objtree = objtree_with(tmp_path)
    cc = fake_compiler(tmp_path, ".globl startup_64\n")
    assert deps.scan_incbin([PIGGY], cc, objtree, SRC) == {}


def test_scan_incbin_rejects_incbin_that_is_not_a_file_in_objtree(tmp_path):
    objtree = objtree_with(tmp_path)
    cc = fake_compiler(tmp_path, '.incbin "arch/x86/boot/missing.bin"\n')
    with pytest.raises(TranslationError, match="arch/x86/boot/missing.bin"):
        deps.scan_incbin([PIGGY], cc, objtree, SRC)


def test_scan_incbin_failure_shows_last_compiler_error_line(tmp_path):
    objtree = objtree_with(tmp_path)
    cc = fake_compiler(tmp_path, "", rc=1,
                       stderr="In file included from x:\nerror: bad include\n")
    with pytest.raises(TranslationError, match="piggy.S for .incbin failed: error: bad include"):
        deps.scan_incbin([PIGGY], cc, objtree, SRC)


def test_scan_incbin_failure_without_compiler_output_is_translation_error(tmp_path):
    objtree = objtree_with(tmp_path)
    cc = fake_compiler(tmp_path, "", rc=3)
    with pytest.raises(TranslationError, match="piggy.S for .incbin failed"):
        deps.scan_incbin([PIGGY], cc, objtree, SRC)
