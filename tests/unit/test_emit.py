"""tools/kthinlto/emit.py: the generated @kernel repository."""

import ast
import json
import os

import pytest

from tools.kthinlto import emit
from tools.kthinlto import graph
from tools.kthinlto.graph import LinkUnit, Object

FE = ("-I%{src}/include", "-D__KERNEL__", "-Os", "-flto=thin", "-fsplit-lto-unit")
NATIVE = ("-D__ASSEMBLY__", "-I%{src}/include", "-Wa,-I%{obj}")
CONFIG = emit.kernel_config("/k/src", "x86_64", "tinyconfig", "", (), "")


def objects():
    return [
        Object("kernel/umh.o", True, "%{src}/kernel/umh.c", FE,
               ("%{src}/kernel/umh.c", "%{src}/include/linux/kconfig.h",
                "%{obj}/include/generated/autoconf.h")),
        Object("arch/x86/entry/entry_64.o", False, "%{src}/arch/x86/entry/entry_64.S",
               NATIVE, ("%{src}/include/linux/kconfig.h",)),
        Object("lib/sort.o", True, "%{src}/lib/sort.c", FE,
               ("%{src}/lib/sort.c",)),
    ]


def link(post_link=(graph.OBJTOOL, "--link"), scripts=("initcalls",)):
    return LinkUnit("vmlinux.o", ("-m", "elf_x86_64"), ("kernel/umh.o", "arch/x86/entry/entry_64.o"),
                    ("lib/sort.o",), scripts, post_link)


def data(**link_kw):
    return emit.kernel_data(objects(), [link(**link_kw)], CONFIG, {"KBUILD_BUILD_USER": "kthinlto"})


def read_kernel_bzl(gen):
    return emit.read_kernel_bzl(os.path.join(gen, "kernel.bzl"))


# package_path

def test_package_path_maps_src_token_to_src_dir():
    assert emit.package_path("%{src}/include/linux/kconfig.h") == "src/include/linux/kconfig.h"


def test_package_path_maps_obj_token_to_obj_dir():
    assert emit.package_path("%{obj}/include/generated/autoconf.h") == (
        "obj/include/generated/autoconf.h")


def test_package_path_rejects_unrelocated_path():
    with pytest.raises(ValueError, match="/usr/include/stdio.h"):
        emit.package_path("/usr/include/stdio.h")


# kernel_data

def test_kernel_data_lists_each_file_once_as_package_path():
    assert data()["files"] == [
        "src/kernel/umh.c", "src/include/linux/kconfig.h",
        "obj/include/generated/autoconf.h", "src/arch/x86/entry/entry_64.S",
        "src/lib/sort.c"]


def test_kernel_data_objects_in_order_with_bitcode_and_source_index():
    d = data()
    files = d["files"]
    assert [(o["path"], o["bitcode"], files[o["source"]]) for o in d["objects"]] == [
        ("kernel/umh.o", 1, "src/kernel/umh.c"),
        ("arch/x86/entry/entry_64.o", 0, "src/arch/x86/entry/entry_64.S"),
        ("lib/sort.o", 1, "src/lib/sort.c")]
    assert "lazy" not in d["objects"][0]   # a unit's membership, not the object's


def test_kernel_data_inputs_are_sorted_indices_including_the_source():
    d = data()
    files = d["files"]
    inputs = {o["path"]: o["inputs"] for o in d["objects"]}
    assert all(i == sorted(set(i)) for i in inputs.values())
    assert [files[i] for i in inputs["arch/x86/entry/entry_64.o"]] == [
        "src/include/linux/kconfig.h", "src/arch/x86/entry/entry_64.S"]
    assert [files[i] for i in inputs["kernel/umh.o"]] == [
        "src/kernel/umh.c", "src/include/linux/kconfig.h",
        "obj/include/generated/autoconf.h"]


def test_kernel_data_shares_identical_flag_sets():
    d = data()
    umh, entry, sort = d["objects"]
    assert umh["flags"] == sort["flags"]
    assert umh["be_flags"] == sort["be_flags"]
    assert entry["flags"] != umh["flags"]
    assert d["flagsets"][umh["flags"]] == list(FE)
    assert d["flagsets"][entry["flags"]] == list(NATIVE)


def test_kernel_data_backend_flag_set_has_no_preprocessor_options_or_flto():
    d = data()
    umh = d["objects"][0]
    assert d["flagsets"][umh["be_flags"]] == ["-Os", "-fsplit-lto-unit"]


def test_kernel_data_link_units_and_config():
    d = data()
    assert d["units"] == [{
        "name": "vmlinux.o", "ldflags": ["-m", "elf_x86_64"],
        "whole": ["kernel/umh.o", "arch/x86/entry/entry_64.o"], "lazy": ["lib/sort.o"],
        "scripts": ["initcalls"], "post_link": ["obj/tools/objtool/objtool", "--link"],
        "module": ""}]
    assert d["config"] == CONFIG
    assert d["schema"] == emit.schema_version() == 6
    assert d["modules"] == {}   # no module steps without modules


def test_kernel_bzl_without_modules_is_a_starlark_literal():
    # JSON's null, true and false are no Starlark: kernel.bzl must be a
    # literal of dicts, lists, strings and ints only (plain tinyconfig has
    # no modules).
    payload = emit.kernel_bzl(data()).split(emit._KERNEL, 1)[1]
    assert isinstance(ast.literal_eval(payload), dict)


def test_kernel_data_modules_index_the_shared_files_and_flag_sets():
    final = graph.ModuleFinal(
        module="fs/fuse/fuse.ko", cflags=FE,
        inputs=("%{src}/include/linux/kconfig.h", "%{src}/include/linux/module.h"),
        ldflags=("-r", "-m", "elf_x86_64"), script="%{obj}/scripts/module.lds",
        common=(".module-common.o",))
    steps = graph.ModuleSteps(
        modpost="scripts/mod/modpost -M -o Module.symvers -T modules.order vmlinux.o",
        builtin=("cmd one", "cmd two"), finals=(final,),
        srcversion_cmds=(("fs/fuse/.inode.o.cmd", "source_fs/fuse/inode.o := x\n"),),
        srcversion_files=("%{obj}/fs/fuse/fuse.mod", "%{src}/kernel/umh.c"))
    d = emit.kernel_data(objects(), [link()], CONFIG, {}, steps=steps)
    files, modules = d["files"], d["modules"]
    assert modules["modpost"] == steps.modpost
    assert modules["builtin"] == ["cmd one", "cmd two"]
    [f] = modules["finals"]
    assert f["module"] == "fs/fuse/fuse.ko"
    # The .mod.o compile's flags are the objects' FE set, not a copy.
    assert f["flags"] == d["objects"][0]["flags"]
    assert [files[i] for i in f["inputs"]] == [
        "src/include/linux/kconfig.h", "src/include/linux/module.h"]
    assert f["inputs"] == sorted(f["inputs"])
    assert f["ldflags"] == ["-r", "-m", "elf_x86_64"]
    assert files[f["script"]] == "obj/scripts/module.lds"
    assert f["common"] == [".module-common.o"]
    assert sorted(files[i] for i in modules["srcversion"]) == [
        "obj/fs/fuse/fuse.mod", "src/kernel/umh.c", "srcversion/fs/fuse/.inode.o.cmd"]
    assert len(files) == len(set(files))
    json.dumps(d)


def test_kernel_data_marks_prebuilt_objects_with_their_object_as_source():
    pi = Object("arch/arm64/kernel/pi/map_range.pi.o", False,
                "%{obj}/arch/arm64/kernel/pi/map_range.pi.o", (), (), prebuilt=True)
    d = emit.kernel_data(objects() + [pi], [link()], CONFIG, {})
    prebuilt = [o for o in d["objects"] if o["prebuilt"]]
    assert [o["path"] for o in prebuilt] == ["arch/arm64/kernel/pi/map_range.pi.o"]
    assert d["files"][prebuilt[0]["source"]] == "obj/arch/arm64/kernel/pi/map_range.pi.o"
    assert sum(o["prebuilt"] for o in d["objects"]) == 1


def test_kernel_data_without_objtool_or_initcalls():
    [unit] = data(post_link=(), scripts=())["units"]
    assert (unit["post_link"], unit["scripts"]) == ([], [])


def test_kernel_data_is_json_serializable():
    d = data()
    assert json.loads(json.dumps(d)) == d


# write

def test_write_creates_src_and_obj_symlinks(tmp_path):
    gen = tmp_path / "gen"
    emit.write(str(gen), "/k/src", "/k/obj", data())
    assert os.readlink(gen / "src") == "/k/src"
    assert os.readlink(gen / "obj") == "/k/obj"


def test_write_kernel_bzl_payload_is_the_data_one_record_per_line(tmp_path):
    gen = tmp_path / "gen"
    d = data()
    emit.write(str(gen), "/k/src", "/k/obj", d)
    assert read_kernel_bzl(gen) == d
    text = (gen / "kernel.bzl").read_text()
    lines = text.splitlines()
    # The objects are one raw JSON string inside the dict (fast to
    # analyse), an object per line; every file and flag set its own line.
    objects = [l for l in lines if l.startswith('{"path":')]
    assert [json.loads(l.rstrip(","))["path"] for l in objects] == [o["path"] for o in d["objects"]]
    assert all(f'        {json.dumps(f)},' in lines for f in d["files"])
    assert 'KERNEL = {' in lines and '    "objects": r"""[' in lines


def test_read_kernel_bzl_reads_the_former_list_form(tmp_path):
    d = data()
    path = tmp_path / "kernel.bzl"
    path.write_text("KERNEL = " + json.dumps(d) + "\n")
    assert emit.read_kernel_bzl(str(path)) == d


def test_write_build_file_loads_kernel_and_wires_its_link_units(tmp_path):
    gen = tmp_path / "gen"
    emit.write(str(gen), "/k/src", "/k/obj", data())
    build = (gen / "BUILD.bazel").read_text()
    assert 'load(":kernel.bzl", "KERNEL")' in build
    assert 'kernel_link_units(\n    name = "objects",\n    kernel = DATA,\n)' in build
    assert "DATA = kernel_decode(KERNEL)" in build and "kernel = DATA," in build


def test_write_creates_workspace_file(tmp_path):
    gen = tmp_path / "gen"
    emit.write(str(gen), "/k/src", "/k/obj", data())
    assert (gen / "WORKSPACE").is_file()


def test_write_build_file_has_vmlinux_and_the_x86_tree(tmp_path):
    gen = tmp_path / "gen"
    emit.write(str(gen), "/k/src", "/k/obj", data())
    build = (gen / "BUILD.bazel").read_text()
    assert 'name = "vmlinux",' in build
    assert '"src/arch/x86/**"' in build
    assert 'exclude = [\n        "obj/source",\n        "obj/source/**",\n    ]' in build


def test_write_build_file_leaves_the_binaries_naming_a_path_out_of_the_tail(tmp_path):
    gen = tmp_path / "gen"
    emit.write(str(gen), "/k/src", "/k/obj", data(),
               not_normal=["scripts/kconfig/conf", "tools/objtool/check.o"])
    build = (gen / "BUILD.bazel").read_text()
    objtree = build[build.index('name = "objtree"'):build.index('name = "tail_srcs"')]
    assert ('"obj/source/**",\n        "obj/scripts/kconfig/conf",\n'
            '        "obj/tools/objtool/check.o",\n    ]') in objtree


def test_write_build_file_reads_the_arm64_tree(tmp_path):
    gen = tmp_path / "gen"
    d = data()
    d["config"] = emit.kernel_config("/k/src", "arm64", "tinyconfig", "", (), "")
    emit.write(str(gen), "/k/src", "/k/obj", d)
    build = (gen / "BUILD.bazel").read_text()
    assert '"src/arch/arm64/**"' in build and "arch/x86" not in build


@pytest.mark.parametrize("arch,srcarch,image,path", [
    ("x86_64", "x86", "bzImage", "arch/x86/boot/bzImage"),
    ("arm64", "arm64", "Image", "arch/arm64/boot/Image"),
    ("riscv", "riscv", "", ""),
])
def test_kernel_config_names_srcarch_and_boot_image(arch, srcarch, image, path):
    c = emit.kernel_config("/k/src", arch, "tinyconfig", "", ("a.config",), "-O3")
    assert (c["srcarch"], c["image"], c["image_path"]) == (srcarch, image, path)
    assert c["fragments"] == ["a.config"] and c["kcflags"] == "-O3"


def test_kernel_data_carries_the_pinned_build_stamp():
    assert data()["build_env"] == {"KBUILD_BUILD_USER": "kthinlto"}


def test_kernel_data_carries_the_schema_version_the_rules_read():
    from tools.kthinlto import contract
    with open(contract.BZL) as f:
        bzl = f.read()
    assert f"KERNEL_SCHEMA = {data()['schema']}\n" in bzl
    assert data()["schema"] == emit.schema_version() >= 2


def test_kernel_data_names_the_module_of_each_object():
    module = LinkUnit("lib/sort_mod.o", ("-m", "elf_x86_64"), ("lib/sort.o",), (),
                      module="lib/sort_mod.ko")
    unit = LinkUnit("vmlinux.o", ("-m", "elf_x86_64"),
                    ("kernel/umh.o", "arch/x86/entry/entry_64.o"), ())
    d = emit.kernel_data(objects(), [unit, module], CONFIG, {})
    assert {o["path"]: o["module"] for o in d["objects"]} == {
        "kernel/umh.o": "", "arch/x86/entry/entry_64.o": "", "lib/sort.o": "lib/sort_mod.ko"}
    assert [u["module"] for u in d["units"]] == ["", "lib/sort_mod.ko"]
