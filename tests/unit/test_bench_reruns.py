"""bench/reruns.py: how the bench tells which BE actions an edit re-ran."""

import os
import subprocess

from bench import reruns as compare
from tools.kthinlto.kbuild import Toolchain

TC = Toolchain()


def test_rewritten_names_new_and_missing_outputs_only():
    before = {"a.o": (1, 10), "b.o": (2, 20), "c.o": (3, 30), "d.o": None}
    after = {"a.o": (1, 10), "b.o": (4, 20), "c.o": (3, 31), "d.o": None}
    # b.o is a new file (inode), c.o was rewritten in place (mtime); d.o is
    # still missing, which is no evidence of a run, but never a cache hit.
    assert compare.rewritten(before, after) == ["b.o", "c.o", "d.o"]


def test_stamps_change_when_bazel_replaces_an_output(tmp_path):
    be = tmp_path / "be" / "kernel"
    be.mkdir(parents=True)
    outputs = {f"kernel/{m}": str(be / m) for m in ("sys.o", "fork.o")}
    for m in ("sys.o", "fork.o"):
        (be / m).write_bytes(b"old")
    first = compare.stamps(outputs)
    # As Bazel runs an action: the output is deleted, then written anew.
    os.unlink(be / "sys.o")
    (be / "sys.o.tmp").write_bytes(b"new")
    os.rename(be / "sys.o.tmp", be / "sys.o")
    assert compare.rewritten(first, compare.stamps(outputs)) == ["kernel/sys.o"]


def _object(tmp_path, name, source):
    """A real object file, compiled by clang-19 from C source (always named
    m.c, so its file symbol is the same)."""
    d = tmp_path / name
    d.mkdir()
    (d / "m.c").write_text(source)
    subprocess.run([TC.tool("clang"), "-c", "-O2", "-o", "m.o", "m.c"], cwd=d, check=True)
    return str(d / "m.o")


def test_output_change_tells_bytes_symbols_and_promoted_names(tmp_path):
    base = "int used(void); int f(void) { return used() + %d; }\n"
    promoted = 'int helper(void) __asm__("helper.llvm.%d");\nint g(void) { return helper(); }\n'
    a = _object(tmp_path, "a", base % 1)
    a_again = _object(tmp_path, "a_again", base % 1)
    a_other_code = _object(tmp_path, "a_other_code", base % 2)
    p1 = _object(tmp_path, "p1", promoted % 1234)
    p2 = _object(tmp_path, "p2", promoted % 98765)
    extra = _object(tmp_path, "extra", base % 1 + "int h(void) { return 0; }\n")
    assert compare.output_change(a, a_again) == "same bytes"
    assert compare.output_change(a, a_other_code) == "same symbols, other bytes"
    assert compare.output_change(p1, p2) == (
        "symbols differ only in promoted locals' .llvm.<module hash>")
    assert compare.output_change(a, extra) == "symbols changed"
    assert compare.output_change(p1, a) == "symbols changed"


def test_saved_outputs_are_compared_with_the_rerun_ones(tmp_path):
    be = tmp_path / "be" / "kernel"
    be.mkdir(parents=True)
    outputs = {f"kernel/{m}": str(be / m) for m in ("sys.o", "fork.o", "exit.o")}
    for m in ("sys.o", "fork.o", "exit.o"):
        (be / m).write_bytes(b"old " + m.encode())
    saved = tmp_path / "saved"
    compare.save_outputs(outputs, str(saved))
    assert (saved / "kernel" / "fork.o").read_bytes() == b"old fork.o"
    # As Bazel re-runs two of them: fork.o gets the same bytes, exit.o none.
    for m in ("fork.o", "exit.o"):
        os.unlink(be / m)
    (be / "fork.o").write_bytes(b"old fork.o")
    changes = compare.output_changes(["kernel/exit.o", "kernel/fork.o"], str(saved), outputs)
    assert changes == {"no object before or after": ["kernel/exit.o"],
                       "same bytes": ["kernel/fork.o"]}
