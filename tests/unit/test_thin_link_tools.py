"""The thin-link and BE launchers with the real clang-19 and ld.lld-19.

Two small C modules, a.o calling a function of b.o, compiled to ThinLTO
bitcode; then tools/kthinlto/actions/import_bundles.py and rules/private/backend.sh
run exactly as the ThinLtoIndex and ThinLtoBackend actions run them.
"""

import os
import shutil
import subprocess
import sys

import pytest

from tests.unit.objects import compile_tree
from tools.kthinlto.kbuild import Toolchain

TC = Toolchain()

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
RULES = os.path.join(ROOT, "rules", "private")
IMPORT_BUNDLES = os.path.join(ROOT, "tools", "kthinlto", "actions", "import_bundles.py")
BACKEND = os.path.join(RULES, "backend.sh")

SOURCES = {
    "a.c": "int b_value(int x);\nint a_entry(int x) { return b_value(x) + 1; }\n",
    "lib/b.c": "int b_value(int x) { return x * 3; }\n",
}


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """fe/a.o and fe/lib/b.o as bitcode; cwd is the 'execroot'."""
    monkeypatch.chdir(tmp_path)
    compile_tree(tmp_path, SOURCES)
    return tmp_path


def thin_link(modules=("a.o", "lib/b.o"), bundled=("a.o", "lib/b.o")):
    with open("manifest", "w") as f:
        for m in bundled:
            f.write(f"{m}\tout/{m}.thinlto.tar\n")
    with open("ld.params", "w") as f:
        f.write("\n".join(["-r", "--thinlto-index-only", "--thinlto-emit-imports-files",
                           "--thinlto-prefix-replace=;../scratch/",
                           "-o", "../scratch/thin-link.o", *modules]) + "\n")
    return subprocess.run([sys.executable, IMPORT_BUNDLES, "--manifest=manifest", "--fe_dir=fe",
                           "--scratch=scratch", "--nm=" + shutil.which(TC.tool("llvm-nm")),
                           "--ld=" + shutil.which(TC.tool("ld.lld")), "--", "@ld.params"],
                          capture_output=True, text=True)


def backend(module):
    work = f"be/{module}.bundle"
    back = "../" * (work.count("/") + 1)
    os.makedirs(os.path.dirname(f"be/{module}"), exist_ok=True)
    return subprocess.run(
        ["/bin/sh", BACKEND, f"out/{module}.thinlto.tar", f"fe/{module}", module, work,
         shutil.which(TC.tool("clang")), "-O2", "-fno-lto", "-x", "ir",
         f"-fthinlto-index={module}.thinlto.bc", "-c", f"-o{back}be/{module}", module],
        capture_output=True, text=True)


def test_backend_imports_from_its_bundle_and_cleans_up(tree):
    proc = thin_link()
    assert proc.returncode == 0, proc.stderr
    proc = backend("a.o")
    assert proc.returncode == 0, proc.stderr
    # b_value was imported from lib/b.o and inlined: a.o needs nothing else.
    nm = subprocess.run([TC.tool("llvm-nm"), "be/a.o"], capture_output=True, text=True,
                        check=True).stdout
    assert "T a_entry" in nm
    assert "b_value" not in nm
    assert not os.path.exists("be/a.o.bundle")


def test_truncated_bitcode_stops_the_thin_link_naming_it(tree):
    with open("fe/lib/b.o", "r+b") as f:
        f.truncate(200)
    proc = thin_link()
    assert proc.returncode != 0
    assert "lib/b.o" in proc.stderr
    assert not os.path.exists("out")


def test_corrupt_bitcode_stops_the_thin_link_naming_it(tree):
    with open("fe/lib/b.o", "r+b") as f:
        f.seek(64)
        f.write(b"\xff" * 256)
    proc = thin_link()
    assert proc.returncode != 0
    error = [line for line in proc.stderr.splitlines() if line.startswith("kthinlto")]
    # One line: the module, llvm-nm's reason without llvm-nm's own path, the fix.
    assert len(error) == 1
    assert error[0].startswith("kthinlto thin link: error: not valid bitcode: lib/b.o: ")
    assert "llvm-nm" not in error[0] and "lib/b.o: lib/b.o" not in error[0]
    assert error[0].endswith("rebuild it from its source")
    assert not os.path.exists("out")


def test_index_naming_a_module_outside_the_build_is_an_error(tree):
    # lib/b.o is linked but is not a bitcode object of this build's graph.
    proc = thin_link(bundled=("a.o",))
    assert proc.returncode == 1
    assert "the index of a.o imports lib/b.o" in proc.stderr
    assert "not a bitcode object of this build" in proc.stderr
