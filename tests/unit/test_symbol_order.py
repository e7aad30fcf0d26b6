"""tools/kthinlto/actions/symbol_order.py: a module link's global symbols in
the order Kbuild's in-process link enters them, on objects compiled here."""

import subprocess
import sys

from tools.kthinlto.actions import symbol_order
from tools.kthinlto.kbuild import Toolchain


def test_globals_of_keeps_global_symbols_in_order():
    out = ("---------------- T b_func\n                 U z_ext\n---------------- t local\n"
           "                 w weak_ref\n0000000000000000 D a_data\n                 U a_ext\n")
    assert symbol_order.globals_of(out) == [
        ("T", "b_func"), ("U", "z_ext"), ("w", "weak_ref"), ("D", "a_data"), ("U", "a_ext")]


def test_order_is_the_members_first_occurrences_the_link_has_strongly():
    members = [[("T", "f"), ("U", "z"), ("U", "gone")], [("U", "z"), ("w", "weak"), ("U", "a")]]
    linked = [[("U", "a"), ("T", "f")], [("U", "z"), ("w", "weak")]]
    # gone: no linked object has it; weak: only weakly referenced.
    assert symbol_order.order(members, linked) == ["f", "z", "a"]


def test_the_link_takes_kbuilds_order_of_undefined_symbols(tmp_path):
    """With the response file first, ld.lld -r writes the undefined symbols
    in the bitcode's order, not in the native object's."""
    tc = Toolchain()
    src = tmp_path / "m.c"
    # The IR names zeta first (the initializer), code generation alpha
    # (the text before the data).
    src.write_text("extern void zeta(void); extern void alpha(void);\n"
                   "void (*ptr)(void) = zeta;\nvoid f(void) { alpha(); }\n")
    bc, native = str(tmp_path / "m.bc.o"), str(tmp_path / "m.o")
    subprocess.run([tc.clang, "-O2", "-flto=thin", "-c", str(src), "-o", bc], check=True)
    subprocess.run([tc.clang, "-O2", "-c", str(src), "-o", native], check=True)
    out = str(tmp_path / "order")
    assert symbol_order.main([f"--nm={tc.nm}", f"--out={out}", f"--member={bc}",
                              f"--linked={native}"]) == 0
    with open(out) as f:
        names = [line.strip().removeprefix("--undefined=") for line in f]

    def undefined(path):
        nm = subprocess.run([tc.nm, "-p", "-u", path], check=True, capture_output=True,
                            text=True).stdout
        return [line.split()[-1] for line in nm.splitlines()]
    assert undefined(native) == ["alpha", "zeta"]
    linked = str(tmp_path / "linked.o")
    subprocess.run([tc.ld, "-r", f"@{out}", "-o", linked, native], check=True)
    assert undefined(linked) == undefined(bc) == ["zeta", "alpha"]


def test_a_file_nm_cannot_read_is_named(tmp_path):
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"not an object")
    proc = subprocess.run([sys.executable, "-m", "tools.kthinlto.actions.symbol_order",
                           f"--nm={Toolchain().nm}", f"--out={tmp_path / 'o'}",
                           f"--member={bad}"], capture_output=True, text=True)
    assert proc.returncode == 1 and f"-p {bad} failed" in proc.stderr
