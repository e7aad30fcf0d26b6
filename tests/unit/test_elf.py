"""tools/kthinlto/elf.py: the one rule for symbols and modinfo, on small
objects compiled here."""

import subprocess

from tools.kthinlto import elf
from tools.kthinlto.kbuild import Toolchain


def test_parse_nm_masks_the_promoted_suffix_and_keeps_the_binding():
    out = ("0000000000000000 T f\n0000000000000010 t g.llvm.123456\n"
           "                 U printk\n0000000000000020 t g.llvm.987\n")
    assert elf.parse_nm(out) == {("T", "f"): 1, ("t", "g"): 2, ("U", "printk"): 1}


def test_parse_modinfo_keeps_every_value_in_order():
    section = b"license=GPL\0alias=fs-fuse\0\0alias=devname:fuse\0depends=a,b\0"
    assert elf.parse_modinfo(section) == {
        "license": ["GPL"], "alias": ["fs-fuse", "devname:fuse"], "depends": ["a,b"]}


def _module(tmp_path, name: str, body: str) -> str:
    src = tmp_path / f"{name}.c"
    src.write_text(body)
    out = str(tmp_path / f"{name}.o")
    subprocess.run([Toolchain().clang, "-c", str(src), "-o", out], check=True)
    return out


MODINFO = ('static const char __attribute__((used, section(".modinfo"))) i[] = '
           '"license=GPL\\0depends=%s";\n')


def test_module_differences_names_symbols_and_modinfo(tmp_path):
    same = _module(tmp_path, "a", "int f(void) { return 1; }\n" + MODINFO % "x,y")
    twin = _module(tmp_path, "b", "int f(void) { return 2; }\n" + MODINFO % "x,y")
    assert elf.module_differences({"m.ko": same}, {"m.ko": twin}) == []
    other = _module(tmp_path, "c", "static int f(void) { return 1; }\nint g(void) { return f(); }\n"
                    + MODINFO % "y,x")
    lines = elf.module_differences({"m.ko": same}, {"m.ko": other})
    assert len(lines) == 2 and lines[0].startswith("m.ko: symbols:")
    assert lines[1] == "m.ko: modinfo: depends ours ['x,y'] Kbuild's ['y,x']"
    assert elf.module_differences({"m.ko": same}, {}) == [
        "modules: ours only ['m.ko'], Kbuild's only []"]
