"""rules/private/initcall_scan.sh with the real llvm-nm-19.

Three objects of one shard (two bitcode, one native) scanned by one llvm-nm:
each gets its own listing of exactly the initcall lines that
`llvm-nm --defined-only OBJ | grep -F __initcall__` prints for it alone.
"""

import os
import shutil
import subprocess

import pytest

from tests.unit.objects import compile_tree
from tools.kthinlto.kbuild import Toolchain

TC = Toolchain()

SCAN = os.path.join(os.path.dirname(__file__), "..", "..", "rules", "private", "initcall_scan.sh")

SOURCES = {
    # Named like the initcall entries Kbuild's macros make.
    "kernel/a.c": "static int a_init(void) { return 0; }\n"
                  "int (*__initcall__kmod_a__1_2_a_init6)(void) = a_init;\n"
                  "int (*__initcall__kmod_a__3_4_a_late7)(void) = a_init;\n",
    "lib/b.c": "int b_value(int x) { return x * 3; }\n",
    "init/c.c": "int (*__initcall__kmod_c__5_6_c_init1)(void) = 0;\n",
}


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    compile_tree(tmp_path, SOURCES, native=("init/c.c",))
    for obj in ("kernel/a.o", "lib/b.o", "init/c.o"):
        os.makedirs(os.path.dirname(f"out/{obj}"), exist_ok=True)
    return tmp_path


def scan(*objs):
    return subprocess.run(["/bin/sh", SCAN, shutil.which(TC.tool("llvm-nm")), "fe/", "out/",
                           *[f"fe/{o}" for o in objs]], capture_output=True, text=True)


def alone(obj):
    nm = subprocess.run([shutil.which(TC.tool("llvm-nm")), "--defined-only", f"fe/{obj}"],
                        capture_output=True, text=True, check=True).stdout
    return "".join(line + "\n" for line in nm.splitlines() if "__initcall__" in line)


def test_one_nm_writes_each_objects_own_listing(tree):
    proc = scan("kernel/a.o", "lib/b.o", "init/c.o")
    assert proc.returncode == 0, proc.stderr
    listings = {o: open(f"out/{o}.initcalls").read() for o in ("kernel/a.o", "lib/b.o", "init/c.o")}
    assert listings == {o: alone(o) for o in listings}
    assert listings["kernel/a.o"].count("__initcall__") == 2
    assert listings["lib/b.o"] == ""
    assert "__initcall__kmod_c__5_6_c_init1" in listings["init/c.o"]


def test_unreadable_object_fails_the_scan_naming_it(tree):
    with open("fe/lib/b.o", "r+b") as f:
        f.truncate(40)
    proc = scan("kernel/a.o", "lib/b.o")
    assert proc.returncode != 0
    [line] = [l for l in proc.stderr.splitlines() if "error" in l]
    assert "fe/lib/b.o cannot be read" in line and "rebuild it" in line
