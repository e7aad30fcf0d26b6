"""bench/modules.py: what `bench.compare --modules` edits and counts."""

import os

import pytest

from bench import modules


def test_edited_makes_and_takes_back_an_edit():
    e = modules.Edit("a.c", "\treturn x;\n", "\treturn x + 1;\n")
    text = "int f(int x)\n{\n\treturn x;\n}\n"
    changed = modules.edited(text, e)
    assert changed == "int f(int x)\n{\n\treturn x + 1;\n}\n"
    assert modules.edited(changed, e, undo=True) == text
    # Taking back an edit never made: the text as it is (a kept tree that
    # had only the kernel edit); making it twice, or where it is not: no.
    assert modules.edited(text, e, undo=True) == text
    with pytest.raises(ValueError, match="a.c: the benchmark's edit does not apply"):
        modules.edited(changed, e)
    with pytest.raises(ValueError, match="does not apply"):
        modules.edited(text + text, e)


def test_check_config_needs_modules_and_the_edits_module():
    e = modules.MODULE_EDIT
    modules.check_config({"CONFIG_MODULES": "y", "CONFIG_FUSE_FS": "m"}, e)
    with pytest.raises(ValueError, match="no CONFIG_MODULES"):
        modules.check_config({"CONFIG_FUSE_FS": "m"}, e)
    with pytest.raises(ValueError, match="needs CONFIG_FUSE_FS=m"):
        modules.check_config({"CONFIG_MODULES": "y", "CONFIG_FUSE_FS": "y"}, e)


def test_unit_target_is_the_rules_name():
    assert modules.unit_target("vmlinux.o") == "vmlinux_o"
    assert modules.unit_target("fs/fuse/fuse.ko") == "fs_fuse_fuse_o"
    assert modules.unit_target("arch/x86/crypto/sha256-ssse3.ko") == "arch_x86_crypto_sha256-ssse3_o"


def test_unit_of_output_reads_the_be_directory():
    out = "bazel-out/k8-fastbuild/bin/external/kernel/fs_fuse_fuse_o_be/fs/fuse/control.o"
    assert modules.unit_of_output(out, "fs/fuse/control.o") == "fs_fuse_fuse_o"
    vm = "bazel-out/k8-fastbuild/bin/external/kernel/vmlinux_o_be/kernel/sys.o"
    assert modules.unit_of_output(vm, "kernel/sys.o") == "vmlinux_o"
    with pytest.raises(ValueError, match="not the BE output"):
        modules.unit_of_output(vm, "kernel/fork.o")
    with pytest.raises(ValueError, match="not the BE output"):
        modules.unit_of_output("bazel-out/bin/vmlinux_o_fe/kernel/sys.o", "kernel/sys.o")


def test_backend_keys_qualify_only_an_object_of_two_units():
    pairs = [("vmlinux_o", "kernel/sys.o"), ("fs_fuse_fuse_o", "fs/fuse/control.o"),
             ("a_o", "lib/shared.o"), ("b_o", "lib/shared.o")]
    assert modules.backend_keys(pairs) == [
        "kernel/sys.o", "fs/fuse/control.o", "a_o:lib/shared.o", "b_o:lib/shared.o"]


def test_backend_rows_split_vmlinux_and_modules():
    units = {"kernel/sys.o": "vmlinux_o", "arch/x86/entry/syscall_64.o": "vmlinux_o",
             "kernel/fork.o": "vmlinux_o", "fs/fuse/control.o": "fs_fuse_fuse_o",
             "fs/fuse/inode.o": "fs_fuse_fuse_o", "lib/test_module.o": "lib_test_module_o"}
    rows = modules.backend_rows(units, [
        ("kernel/sys.c", ["arch/x86/entry/syscall_64.o", "kernel/sys.o"]),
        ("fs/fuse/control.c", ["fs/fuse/control.o"])])
    assert rows == [("cold build (all)", 3, 3),
                    ("re-run after the edit of kernel/sys.c", 2, 0),
                    ("re-run after the edit of fs/fuse/control.c", 0, 1)]


OBJECTS = {
    "lib/test_module.ko": ["lib/test_module.o"],
    "fs/fuse/fuse.ko": ["fs/fuse/dev.o", "fs/fuse/dir.o", "fs/fuse/control.o"],
    "lib/zstd/zstd_compress.ko": ["lib/zstd/zstd_compress_module.o",
                                  "lib/zstd/compress/zstd_lazy.o", "lib/zstd/compress/hist.o"],
}


def test_several_objects_and_directories():
    assert modules.several_objects(OBJECTS) == ["fs/fuse/fuse.ko", "lib/zstd/zstd_compress.ko"]
    assert modules.several_directories(OBJECTS) == {
        "lib/zstd/zstd_compress.ko": ["lib/zstd", "lib/zstd/compress"]}
    assert modules.directories(OBJECTS["fs/fuse/fuse.ko"]) == ["fs/fuse"]


def test_unit_members_are_the_module_units_objects():
    kernel = {"units": [
        {"name": "vmlinux.o", "whole": ["init/main.o"], "lazy": ["lib/lib.a"], "module": ""},
        {"name": "fs/fuse/fuse.o", "whole": ["fs/fuse/dev.o", "fs/fuse/dir.o"], "lazy": [],
         "module": "fs/fuse/fuse.ko"},
        {"name": "lib/test_module.o", "whole": ["lib/test_module.o"], "lazy": [],
         "module": "lib/test_module.ko"}]}
    assert modules.unit_members(kernel) == {
        "fs/fuse/fuse.ko": ["fs/fuse/dev.o", "fs/fuse/dir.o"],
        "lib/test_module.ko": ["lib/test_module.o"]}


def test_installed_lists_the_ko_files_of_an_install_tree(tmp_path):
    base = tmp_path / "lib" / "modules" / "6.1.0"
    for rel in ("kernel/fs/fuse/fuse.ko", "kernel/lib/test_module.ko", "modules.dep",
                "kernel/fs/fuse/README"):
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text("x")
    # modules_install's links back to the build tree are not followed.
    os.symlink(tmp_path, base / "build")
    assert modules.installed(str(tmp_path)) == ["kernel/fs/fuse/fuse.ko",
                                                "kernel/lib/test_module.ko"]
    assert modules.installed(str(tmp_path / "none")) == []


def test_count_rows_side_by_side():
    ours = modules.Side(["kernel/fs/fuse/fuse.ko", "kernel/lib/test_module.ko"], OBJECTS)
    theirs = modules.Side(["kernel/fs/fuse/fuse.ko"],
                          {"fs/fuse/fuse.ko": OBJECTS["fs/fuse/fuse.ko"]})
    assert modules.count_rows(ours, theirs) == [
        ("modules installed (.ko)", 2, 1),
        ("  of several objects", 2, 1),
        ("  of objects in several directories", 1, 0)]
