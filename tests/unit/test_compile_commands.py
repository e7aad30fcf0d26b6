"""tools/kthinlto/compile_commands.py: the compilation database."""

import json
import os

from tools.kthinlto import compile_commands, emit, flags
from tools.kthinlto.graph import Object

SRC = "/k/linux"
OBJ = "/cache/trees/abc/obj"
C_FLAGS = ("-nostdinc", "-I%{src}/include", "-I%{obj}/include/generated",
           "-include", "%{src}/include/linux/kconfig.h", "-D__KERNEL__",
           "-fmacro-prefix-map=%{src}/=", "-flto=thin")
ASM_FLAGS = ("-D__ASSEMBLY__", "-I", "%{obj}/usr", flags.ASSEMBLER_OBJTREE)


def objects():
    return [
        Object("kernel/sys.o", True, "%{src}/kernel/sys.c", C_FLAGS,
               ("%{src}/kernel/sys.c",)),
        Object("usr/initramfs_data.o", False, "%{src}/usr/initramfs_data.S", ASM_FLAGS,
               ("%{src}/usr/initramfs_data.S", "%{obj}/usr/initramfs_inc_data")),
        Object("arch/arm64/kernel/pi/lib-fdt.pi.o", False,
               "%{obj}/arch/arm64/kernel/pi/lib-fdt.pi.o", (), (), prebuilt=True),
    ]


def entries():
    return compile_commands.entries(objects(), SRC, OBJ, "clang-19")


def test_one_entry_per_compiled_object_in_order_prebuilt_left_out():
    assert [e["output"] for e in entries()] == [
        OBJ + "/kernel/sys.o", OBJ + "/usr/initramfs_data.o"]


def test_entry_is_the_fe_argv_on_the_real_trees():
    assert entries()[0] == {
        "directory": OBJ,
        "file": SRC + "/kernel/sys.c",
        "arguments": ["clang-19", "-nostdinc", "-I/k/linux/include",
                      "-I/cache/trees/abc/obj/include/generated",
                      "-include", "/k/linux/include/linux/kconfig.h", "-D__KERNEL__",
                      "-fmacro-prefix-map=/k/linux/=", "-flto=thin",
                      "-c", "-o", OBJ + "/kernel/sys.o", SRC + "/kernel/sys.c"],
        "output": OBJ + "/kernel/sys.o",
    }


def test_sandbox_only_assembler_include_dir_is_left_out():
    asm = entries()[1]["arguments"]
    assert asm == ["clang-19", "-D__ASSEMBLY__", "-I", OBJ + "/usr", "-c", "-o",
                   OBJ + "/usr/initramfs_data.o", SRC + "/usr/initramfs_data.S"]
    assert not any(a.startswith("-Wa,-I") for a in asm)


def test_no_relocation_token_is_left():
    text = json.dumps(entries())
    assert flags.SRC not in text and flags.OBJ not in text


def test_objtree_inside_srctree_expands_each_token_to_its_own_tree():
    (e,) = compile_commands.entries(
        [Object("a.o", True, "%{src}/a.c", ("-I%{obj}/x", "-I%{src}/x"), ())],
        "/k", "/k/build", "clang-19")
    assert e["arguments"][1:3] == ["-I/k/build/x", "-I/k/x"]
    assert e["file"] == "/k/a.c"


def test_no_objects_no_entries():
    assert compile_commands.entries([], SRC, OBJ, "clang-19") == []


def test_emit_writes_the_entries_into_the_generated_repository(tmp_path):
    gen = tmp_path / "gen"
    data = emit.kernel_data([], [], emit.kernel_config(SRC, "x86_64", "tinyconfig", "", (), ""), {})
    emit.write(str(gen), SRC, OBJ, data, entries())
    with open(os.path.join(gen, emit.COMPILE_COMMANDS)) as f:
        assert json.load(f) == entries()
