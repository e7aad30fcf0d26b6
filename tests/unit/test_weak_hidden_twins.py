"""tests/e2e/kernels.weak_hidden_twins: the proof behind the one visibility
difference the end-to-end tests allow, on bitcode clang makes here."""

import subprocess

from tests.e2e import kernels
from tools.kthinlto import kbuild

SOURCES = {
    # COND_SYSCALL's shape: a weak hidden stand-in, the real one elsewhere.
    "sys_ni.c": '__attribute__((weak, visibility("hidden"))) long sys_x(void) { return -38; }\n'
                '__attribute__((weak)) long sys_y(void) { return -38; }\n',
    "x.c": "long sys_x(void) { return 0; }\n"
           '__attribute__((visibility("hidden"))) long sys_z(void) { return 1; }\n',
}


def test_only_a_weak_hidden_definition_proves_a_symbol(tmp_path):
    tc = kbuild.Toolchain()
    for name, text in SOURCES.items():
        (tmp_path / name).write_text(text)
        subprocess.run([tc.clang, "-flto=thin", "-O2", "-c", name, "-o", name[:-2] + ".o"],
                       cwd=tmp_path, check=True)
    # A vmlinux.o beside them is never read as one of the objects.
    (tmp_path / "vmlinux.o").write_bytes((tmp_path / "sys_ni.o").read_bytes())
    found = kernels.weak_hidden_twins(str(tmp_path), ["sys_x", "sys_y", "sys_z", "sys_w"])
    assert found == {"sys_x": ["sys_ni.o"], "sys_y": [], "sys_z": [], "sys_w": []}
