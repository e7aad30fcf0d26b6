"""tools/kthinlto/kbuild.py: the pure parts of running Kbuild."""

import os
import re
import subprocess

import pytest

from tools.kthinlto import kbuild
from tools.kthinlto.records import TranslationError
from tools.kthinlto.kbuild import Toolchain

TC = Toolchain()


# read_config

def test_read_config_reads_set_options_and_skips_comments(tmp_path):
    config = tmp_path / ".config"
    config.write_text(
        "#\n# Automatically generated file; DO NOT EDIT.\n#\n"
        "CONFIG_CC_IS_CLANG=y\n"
        "# CONFIG_LTO_NONE is not set\n"
        "CONFIG_LTO_CLANG_THIN=y\n"
        "CONFIG_CLANG_VERSION=190107\n"
        'CONFIG_LOCALVERSION="-kthin=1"\n'
        "\n")
    assert kbuild.read_config(str(config)) == {
        "CONFIG_CC_IS_CLANG": "y",
        "CONFIG_LTO_CLANG_THIN": "y",
        "CONFIG_CLANG_VERSION": "190107",
        "CONFIG_LOCALVERSION": '"-kthin=1"',
    }


def test_read_config_with_unset_reads_not_set_comments_as_n(tmp_path):
    fragment = tmp_path / "f.config"
    fragment.write_text("CONFIG_A=y\n# CONFIG_B is not set\n# a comment\n")
    assert kbuild.read_config(str(fragment), unset=True) == {
        "CONFIG_A": "y", "CONFIG_B": "n"}


# dropped_options

def test_dropped_options_names_what_the_final_config_does_not_have_as_asked():
    requested = {"CONFIG_SERIAL_8250": "y", "CONFIG_PRINTK": "y",
                 "CONFIG_ACPI": "y", "CONFIG_DEBUG": "n", "CONFIG_NR": "8"}
    final = {"CONFIG_PRINTK": "y", "CONFIG_NR": "4", "CONFIG_DEBUG": "y"}
    assert kbuild.dropped_options(requested, final) == [
        "CONFIG_ACPI=y", "CONFIG_DEBUG unset", "CONFIG_NR=8", "CONFIG_SERIAL_8250=y"]


def test_module_built_in_by_a_select_is_not_dropped_but_named():
    requested = {"CONFIG_CRC32": "m", "CONFIG_EXT2_FS": "m", "CONFIG_FUSE_FS": "m"}
    final = {"CONFIG_CRC32": "y", "CONFIG_EXT2_FS": "m"}
    assert kbuild.dropped_options(requested, final) == ["CONFIG_FUSE_FS=m"]
    assert kbuild.built_in_options(requested, final) == ["CONFIG_CRC32"]


def test_a_later_fragment_decides_an_option_an_earlier_one_set(tmp_path):
    first, last = tmp_path / "bootable.config", tmp_path / "menuconfig.config"
    first.write_text("CONFIG_A=y\nCONFIG_B=y\n")
    last.write_text("# CONFIG_A is not set\nCONFIG_C=m\n")
    assert kbuild.fragment_requests([str(first), str(last)]) == {
        str(first): {"CONFIG_B": "y"}, str(last): {"CONFIG_A": "n", "CONFIG_C": "m"}}


def test_dropped_options_is_empty_when_every_request_survived():
    assert kbuild.dropped_options({"CONFIG_A": "y", "CONFIG_B": "n"},
                                  {"CONFIG_A": "y"}) == []


# Toolchain and make_args

def test_toolchain_names_tools_with_suffix():
    tc = kbuild.Toolchain("-18")
    assert (tc.clang, tc.ld, tc.ar, tc.scan_deps) == (
        "clang-18", "ld.lld-18", "llvm-ar-18", "clang-scan-deps-18")


def test_make_args_build_out_of_tree_with_llvm_suffix():
    assert kbuild.make_args("/k/src", "/k/obj", "x86_64", kbuild.Toolchain()) == [
        "make", "-C", "/k/src", "O=/k/obj", "ARCH=x86_64", f"LLVM=-{kbuild.LLVM_VERSION}"]


# write_shims

def test_write_shims_creates_executables_named_like_the_tools(tmp_path):
    kbuild.write_shims(str(tmp_path / "shims"), kbuild.Toolchain())
    names = sorted(os.listdir(tmp_path / "shims"))
    assert names == sorted([TC.tool("clang"), TC.tool("ld.lld"), TC.tool("llvm-nm"), "perl",
                            kbuild.MODPOST_SHIM])
    assert all(os.access(tmp_path / "shims" / n, os.X_OK) for n in names)


def test_write_shims_link_to_the_shim(tmp_path):
    kbuild.write_shims(str(tmp_path), kbuild.Toolchain())
    for name in os.listdir(tmp_path):
        assert os.readlink(tmp_path / name) == kbuild.SHIM


def test_shim_path_puts_the_shims_first():
    assert kbuild.shim_path("/w/shims", {"PATH": "/usr/bin:/bin"}) == "/w/shims:/usr/bin:/bin"


def test_record_goals_add_modules_through_modfinal_with_the_shims_modpost_only_with_modules():
    assert kbuild.record_goals({"CONFIG_MODULES": "n"}, "/w/shims") == ["vmlinux_o"]
    assert kbuild.record_goals({}, "/w/shims") == ["vmlinux_o"]
    goals = kbuild.record_goals({"CONFIG_MODULES": "y"}, "/w/shims")
    # modfinal runs (its .mod.o compiles and .ko links are recorded), with
    # the shim as Kbuild's modpost.
    assert goals == ["vmlinux_o", "modules", "MODPOST=/w/shims/modpost"]
    assert not [g for g in goals if "NOFINAL" in g]


# saved_command

def test_saved_command_reads_6_1_cmd_line_as_the_shell_runs_it(tmp_path):
    (tmp_path / ".Module.symvers.cmd").write_text(
        "cmd_Module.symvers := sed 's/ko$$/o/' modules.order | "
        "scripts/mod/modpost -M -m -o Module.symvers -T - vmlinux.o\n")
    assert kbuild.saved_command(str(tmp_path), "Module.symvers") == (
        "sed 's/ko$/o/' modules.order | "
        "scripts/mod/modpost -M -m -o Module.symvers -T - vmlinux.o")


def test_saved_command_reads_6_3_savedcmd_line_in_a_subdirectory(tmp_path):
    (tmp_path / "fs/fuse").mkdir(parents=True)
    (tmp_path / "fs/fuse/.fuse.ko.cmd").write_text(
        "savedcmd_fs/fuse/fuse.ko := ld.lld-19 -r -o fs/fuse/fuse.ko fs/fuse/fuse.o; "
        "echo $$PWD\n\nsource_fs/fuse/fuse.ko := x\n")
    assert kbuild.saved_command(str(tmp_path), "fs/fuse/fuse.ko") == (
        "ld.lld-19 -r -o fs/fuse/fuse.ko fs/fuse/fuse.o; echo $PWD")


def test_saved_command_names_a_missing_file(tmp_path):
    path = os.path.join(tmp_path, ".modules.builtin.cmd")
    with pytest.raises(TranslationError, match=f"^{re.escape(path)}: Kbuild saved no command for modules.builtin"):
        kbuild.saved_command(str(tmp_path), "modules.builtin")


def test_saved_command_names_a_file_whose_first_line_is_not_the_targets_command(tmp_path):
    path = tmp_path / ".modules.builtin.cmd"
    for first in ["cmd_modules.builtin.modinfo := true\n",
                  "deps_modules.builtin := \\\n",
                  "savedcmd_modules.builtin = true\n",
                  ""]:
        path.write_text(first)
        with pytest.raises(TranslationError, match=f"^{re.escape(str(path))}: not a command Kbuild saved for modules.builtin"):
            kbuild.saved_command(str(tmp_path), "modules.builtin")


def test_modules_order_names_modules_by_ko_for_6_1_and_6_12(tmp_path):
    (tmp_path / "modules.order").write_text("fs/fuse/fuse.ko\nlib/test_module.o\n")
    assert kbuild.modules_order(str(tmp_path)) == ["fs/fuse/fuse.ko", "lib/test_module.ko"]
    assert kbuild.modules_order(str(tmp_path / "none")) == []


# run

def test_run_appends_command_and_output_to_log(tmp_path):
    log = tmp_path / "kbuild.log"
    kbuild.run(["/bin/sh", "-c", "echo made"], str(log), "a step")
    assert log.read_text() == "$ /bin/sh -c 'echo made'\nmade\n"


def test_run_failure_names_step_and_shows_log_tail(tmp_path):
    log = tmp_path / "kbuild.log"
    with pytest.raises(TranslationError) as e:
        kbuild.run(["/bin/sh", "-c", "echo 'No rule to make target'; exit 2"],
                   str(log), "make tinyconfig")
    assert "Kbuild step failed: make tinyconfig" in str(e.value)
    assert "No rule to make target" in str(e.value)
    assert str(log) in str(e.value)


# The translation's environment

def test_kbuild_env_keeps_only_path_home_tmpdir_and_pins_the_build_stamp():
    user = {"PATH": "/usr/bin:/bin", "HOME": "/home/u", "TMPDIR": "/tmp",
            "KCFLAGS": "-O3", "CFLAGS": "-g", "LLVM": "/opt/llvm/", "CC": "gcc",
            "KBUILD_BUILD_USER": "someone", "KBUILD_BUILD_TIMESTAMP": "now",
            "CPATH": "/opt/include", "MAKEFLAGS": "-j64"}
    env = kbuild.kbuild_env(user, KTHINLTO_PROBE_CACHE="/p")
    assert env == {"PATH": "/usr/bin:/bin", "HOME": "/home/u", "TMPDIR": "/tmp",
                   "LC_ALL": "C", **kbuild.PINNED_BUILD_ENV,
                   "KTHINLTO_PROBE_CACHE": "/p"}
    assert env["KBUILD_BUILD_USER"] == "kthinlto"


def test_ignored_settings_names_what_kbuild_would_have_read():
    user = {"PATH": "/bin", "KCFLAGS": "-O3", "LLVM": "1", "KBUILD_VERBOSE": "1",
            "KCONFIG_CONFIG": "x", "CPATH": "/opt/include", "EDITOR": "vi"}
    assert kbuild.ignored_settings(user) == ["KBUILD_VERBOSE", "KCFLAGS",
                                             "KCONFIG_CONFIG", "LLVM"]


def test_kconfig_files_reads_deps_config_of_auto_conf_cmd(tmp_path):
    conf = tmp_path / "include/config"
    conf.mkdir(parents=True)
    (conf / "auto.conf.cmd").write_text(
        "deps_config := \\\n\tinit/Kconfig \\\n\tarch/x86/Kconfig \\\n\tKconfig \\\n\n"
        "include/config/auto.conf: $(deps_config)\n\n"
        'ifneq "$(ARCH)" "x86_64"\ninclude/config/auto.conf: FORCE\nendif\n')
    assert kbuild.kconfig_files(str(tmp_path)) == ["Kconfig", "arch/x86/Kconfig", "init/Kconfig"]


def test_normalize_objtool_drops_debug_paths_and_build_id(tmp_path):
    # Two builds of one program that differ only in the path they were built at.
    outs = []
    for where in ("a/somewhere", "b/elsewhere/else"):
        d = tmp_path / where
        d.mkdir(parents=True)
        (d / "tool.c").write_text("int main(void) { return 0; }\n")
        objtool = tmp_path / where / "obj/tools/objtool/objtool"
        objtool.parent.mkdir(parents=True)
        subprocess.run([TC.tool("clang"), "-g", "-fuse-ld=lld", "-Wl,--build-id=sha1", "tool.c",
                        "-o", str(objtool)], cwd=d, check=True)
        assert str(d).encode() in objtool.read_bytes()
        kbuild.normalize_objtool(str(tmp_path / where / "obj"), kbuild.Toolchain())
        outs.append(objtool.read_bytes())
    assert outs[0] == outs[1]
    assert str(tmp_path).encode() not in outs[0]


def test_normalize_objtool_without_objtool_leaves_the_tree_as_it_was(tmp_path):
    # arm64 builds no objtool: the object tree has tools/ but no objtool.
    (tmp_path / "tools/objtool").mkdir(parents=True)
    (tmp_path / "tools/objtool/fixdep").write_bytes(b"\x7fELF not objtool")
    (tmp_path / "vmlinux.a").write_bytes(b"!<arch>\n")

    def tree():
        return {str(p.relative_to(tmp_path)): p.read_bytes() if p.is_file() else None
                for p in sorted(tmp_path.rglob("*"))}

    before = tree()
    kbuild.normalize_objtool(str(tmp_path), kbuild.Toolchain())
    assert tree() == before


def _translated(root, work, src):
    """A tiny object tree as a translation at work of src leaves it."""
    obj = root / work / "obj"
    (obj / "kernel").mkdir(parents=True)
    (obj / "kernel/.sys.o.cmd").write_text(
        f"cmd_kernel/sys.o := clang-19 -I{root / src}/include -c -o kernel/sys.o "
        f"{root / src}/kernel/sys.c\n"
        f"deps_kernel/sys.o := \\\n  {root / src}/include/linux/kconfig.h \\\n"
        "  include/generated/autoconf.h \\\n")
    (obj / ".Module.symvers.cmd").write_text(
        f"cmd_Module.symvers := {root / work}/shims/modpost -M -o Module.symvers\n")
    (obj / "Makefile").write_text(f"include {root / src}/Makefile\n")
    (obj / "kernel/sys.o").write_bytes(b"\x7fELF\0 placeholder")
    (obj / "scripts").mkdir()
    (obj / "scripts/conf").write_bytes(b"\x7fELF\0" + f"{root / src}/scripts/expr.c".encode())
    os.symlink(str(root / src), str(obj / "source"))
    os.utime(obj / "kernel/.sys.o.cmd", ns=(1_000_000_123, 1_000_000_456))
    os.chmod(obj / "Makefile", 0o640)
    return obj


def test_normalize_paths_makes_the_tree_the_same_at_any_path(tmp_path):
    trees, left_out = [], []
    for work, src in (("a/trees/k", "a/src/linux"), ("elsewhere/t/k", "s/linux-source-6.1")):
        obj = _translated(tmp_path, work, src)
        left_out.append(kbuild.normalize_paths(str(obj), str(tmp_path / work),
                                               str(tmp_path / src)))
        trees.append({str(p.relative_to(obj)): p.read_bytes()
                      for p in sorted(obj.rglob("*")) if p.is_file() and not p.is_symlink()})
    # Text files: the same bytes, naming no path of this machine.
    texts = {k: v for k, v in trees[0].items() if b"\0" not in v}
    assert texts == {k: v for k, v in trees[1].items() if b"\0" not in v}
    assert all(str(tmp_path).encode() not in v for v in texts.values())
    assert texts["kernel/.sys.o.cmd"].startswith(
        b"cmd_kernel/sys.o := clang-19 -I/kthinlto-srctree/include -c -o kernel/sys.o "
        b"/kthinlto-srctree/kernel/sys.c\n")
    assert texts[".Module.symvers.cmd"] == (
        b"cmd_Module.symvers := /kthinlto-translation/shims/modpost -M -o Module.symvers\n")
    # A binary naming a path is left as it was, and listed; one that names
    # none (the placeholder object) is not.
    assert left_out == [["scripts/conf"], ["scripts/conf"]]
    assert trees[0]["scripts/conf"] != trees[1]["scripts/conf"]
    # make compares times: kept, as the mode.
    obj = tmp_path / "elsewhere/t/k/obj"
    assert os.stat(obj / "kernel/.sys.o.cmd").st_mtime_ns == 1_000_000_456
    assert os.stat(obj / "Makefile").st_mode & 0o777 == 0o640
    assert os.readlink(obj / "source") == str(tmp_path / "s/linux-source-6.1")
    assert not list(obj.rglob("*.kthinlto-tmp"))


def test_normalize_paths_lists_binaries_naming_a_resumed_translations_paths(tmp_path):
    obj = _translated(tmp_path, "new/k", "linux")
    (obj / "scripts/objtool.o").write_bytes(b"\x7fELF\0" + str(tmp_path / "old/k/obj").encode())
    (obj / "scripts/other.o").write_bytes(b"\x7fELF\0/elsewhere")
    args = str(obj), str(tmp_path / "new/k"), str(tmp_path / "linux")
    assert kbuild.normalize_paths(*args, earlier=((str(tmp_path / "old/k"), "/old/src"),)) == [
        "scripts/conf", "scripts/objtool.o"]


# config_targets and check_spec

def _tree(tmp_path):
    for rel in ("arch/arm64/configs/defconfig", "arch/arm64/configs/virt.config",
                "arch/x86/configs/x86_64_defconfig", "kernel/configs/tiny.config"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("CONFIG_A=y\n")
    return str(tmp_path)


def test_config_targets_are_kconfigs_own_and_the_arch_and_kernel_config_files(tmp_path):
    targets = kbuild.config_targets(_tree(tmp_path), "x86")
    assert {"tinyconfig", "defconfig", "allnoconfig", "x86_64_defconfig",
            "tiny.config"} <= set(targets)
    assert "virt.config" not in targets and "menuconfig" not in targets
    assert "virt.config" in kbuild.config_targets(str(tmp_path), "arm64")


def test_check_spec_refuses_an_unknown_target_listing_the_known(tmp_path):
    with pytest.raises(TranslationError) as e:
        kbuild.check_spec(kbuild.ConfigSpec(target="nosuch_defconfig"), _tree(tmp_path), "x86")
    assert "--config=nosuch_defconfig: no such config target" in str(e.value)
    assert "x86_64_defconfig" in str(e.value) and "\n" not in str(e.value)


def test_check_spec_refuses_files_that_are_not_kernel_configs(tmp_path):
    tree = _tree(tmp_path / "t")
    other = tmp_path / "hostname"
    other.write_text("myhost\n")
    with pytest.raises(TranslationError, match=f"--config_file={other}: not a kernel config"):
        kbuild.check_spec(kbuild.ConfigSpec(target="", config_file=str(other)), tree, "x86")
    with pytest.raises(TranslationError, match=f"--fragment={other}: not a kernel config"):
        kbuild.check_spec(kbuild.ConfigSpec(fragments=(str(other),)), tree, "x86")
    with pytest.raises(TranslationError, match="no such config file"):
        kbuild.check_spec(kbuild.ConfigSpec(fragments=(str(tmp_path / "gone"),)), tree, "x86")
    unset_only = tmp_path / "f.config"
    unset_only.write_text("# CONFIG_MODULES is not set\n")
    kbuild.check_spec(kbuild.ConfigSpec(fragments=(str(unset_only),)), tree, "x86")


@pytest.mark.parametrize("option", [
    "CONFIG_MODVERSIONS", "CONFIG_MODULE_SIG_ALL", "CONFIG_MODULE_COMPRESS_GZIP",
    "CONFIG_MODULE_COMPRESS_XZ", "CONFIG_MODULE_COMPRESS_ZSTD",
    "CONFIG_DEBUG_INFO_BTF_MODULES"])
def test_unsupported_options_refuse_each_with_modules_only_naming_the_fix(option):
    why = kbuild.unsupported_options({"CONFIG_MODULES": "y", option: "y"})
    assert why.startswith(f"{option} is set: kthinlto does not build ")
    assert why.endswith(f"add `# {option} is not set` to a fragment")
    assert kbuild.unsupported_options({"CONFIG_MODULES": "y", option: "n"}) == ""
    # Without modules, nothing of them is built: nothing is refused.
    assert kbuild.unsupported_options({option: "y"}) == ""
    assert kbuild.unsupported_options({"CONFIG_MODULES": "n", option: "y"}) == ""


def test_unsupported_options_is_empty_for_plain_modules():
    assert kbuild.unsupported_options({"CONFIG_MODULES": "y", "CONFIG_MODULE_SIG": "y",
                                       "CONFIG_MODULE_COMPRESS_NONE": "y"}) == ""
