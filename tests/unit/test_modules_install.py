"""tools/kthinlto/actions/modules_install.py: modules_install's layout over
the Bazel-built .ko files, with a fake depmod."""

import os
import stat

import pytest

from tools.kthinlto.actions import modules_install

RELEASE = "6.1.0-kthinlto"


# order_lines

def test_order_lines_installs_6_1_ko_lines_under_kernel():
    assert modules_install.order_lines("fs/fuse/fuse.ko\ndrivers/a/a.ko\n") == [
        "kernel/fs/fuse/fuse.ko", "kernel/drivers/a/a.ko"]


def test_order_lines_turns_6_12_o_lines_into_ko_and_skips_blank_lines():
    assert modules_install.order_lines("fs/fuse/fuse.o\n\n  lib/test_module.o  \n") == [
        "kernel/fs/fuse/fuse.ko", "kernel/lib/test_module.ko"]
    assert modules_install.order_lines("") == []


# install

def fake_depmod(tmp_path, status=0):
    """A depmod that writes modules.dep listing the installed .ko files and
    records its arguments."""
    path = tmp_path / "depmod"
    path.write_text(
        "#!/bin/sh\n"
        f"echo \"$@\" > {tmp_path}/depmod.args\n"
        f"[ {status} = 0 ] || {{ echo 'depmod: ERROR: broken' >&2; exit {status}; }}\n"
        "dir=$3/lib/modules/$4\n"
        "(cd \"$dir\" && find kernel -name '*.ko' | sort | sed 's/$/:/') > \"$dir/modules.dep\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def inputs(tmp_path, order="fs/fuse/fuse.o\nextra/unit.o\n"):
    built = tmp_path / "built"
    (built / "fs/fuse").mkdir(parents=True)
    (built / "extra").mkdir()
    (built / "fs/fuse/fuse.ko").write_bytes(b"\x7fELF fuse")
    (built / "extra/unit.ko").write_bytes(b"\x7fELF unit")
    (built / "modules.order").write_text(order)
    (built / "modules.builtin").write_text("kernel/fs/ext4/ext4.ko\n")
    (built / "modules.builtin.modinfo").write_bytes(b"ext4.file=fs/ext4/ext4\0")
    modules = {"fs/fuse/fuse.ko": str(built / "fs/fuse/fuse.ko"),
               "extra/unit.ko": str(built / "extra/unit.ko")}
    builtin = [str(built / "modules.builtin"), str(built / "modules.builtin.modinfo")]
    return str(built / "modules.order"), builtin, modules


def tree(out):
    """Every file and link under out, relative, with links marked."""
    found = []
    for root, dirs, files in os.walk(out):
        for name in dirs + files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, out)
            if os.path.islink(path):
                found.append(rel + " -> " + os.readlink(path))
            elif os.path.isfile(path):
                found.append(rel)
    return sorted(found)


def test_install_lays_out_modules_order_builtin_lists_and_runs_depmod(tmp_path):
    out = tmp_path / "install"
    order, builtin, modules = inputs(tmp_path)
    modules_install.install(str(out), RELEASE, order, builtin, modules, fake_depmod(tmp_path))
    modlib = f"lib/modules/{RELEASE}"
    # Exactly modules_install's files, no link (no `build` or `source`).
    assert tree(out) == sorted(f"{modlib}/{f}" for f in [
        "kernel/extra/unit.ko", "kernel/fs/fuse/fuse.ko", "modules.builtin",
        "modules.builtin.modinfo", "modules.dep", "modules.order"])
    assert (out / modlib / "kernel/fs/fuse/fuse.ko").read_bytes() == b"\x7fELF fuse"
    assert (out / modlib / "kernel/extra/unit.ko").read_bytes() == b"\x7fELF unit"
    assert (out / modlib / "modules.order").read_text() == (
        "kernel/fs/fuse/fuse.ko\nkernel/extra/unit.ko\n")
    assert (out / modlib / "modules.builtin").read_text() == "kernel/fs/ext4/ext4.ko\n"
    assert (out / modlib / "modules.builtin.modinfo").read_bytes() == b"ext4.file=fs/ext4/ext4\0"
    assert (out / modlib / "modules.dep").read_text() == (
        "kernel/extra/unit.ko:\nkernel/fs/fuse/fuse.ko:\n")
    assert (tmp_path / "depmod.args").read_text() == f"-a -b {out} {RELEASE}\n"
    # Nothing left beside the output.
    assert sorted(os.listdir(tmp_path)) == ["built", "depmod", "depmod.args", "install"]


def test_install_refuses_a_modules_order_of_other_modules(tmp_path):
    order, builtin, modules = inputs(tmp_path, order="fs/fuse/fuse.ko\n")
    with pytest.raises(SystemExit, match="does not list exactly the modules built .1 against 2."):
        modules_install.install(str(tmp_path / "install"), RELEASE, order, builtin, modules,
                                fake_depmod(tmp_path))


def test_install_names_depmods_failure(tmp_path):
    order, builtin, modules = inputs(tmp_path)
    with pytest.raises(SystemExit, match=r"depmod -a -b .* failed: depmod: ERROR: broken"):
        modules_install.install(str(tmp_path / "install"), RELEASE, order, builtin, modules,
                                fake_depmod(tmp_path, status=1))


def test_main_reads_the_release_and_fills_the_output_directory_anew(tmp_path, monkeypatch):
    monkeypatch.setattr(modules_install, "DEPMOD_PATHS", (fake_depmod(tmp_path),))
    order, builtin, modules = inputs(tmp_path)
    release = tmp_path / "kernel.release"
    release.write_text(RELEASE + "\n")
    out = tmp_path / "install"
    (out / "stale").mkdir(parents=True)
    argv = [f"--out={out}", f"--release_file={release}", f"--order={order}"]
    argv += [f"--builtin={b}" for b in builtin]
    argv += ["--"] + [f"{ko}={path}" for ko, path in modules.items()]
    assert modules_install.main(argv) == 0
    assert os.listdir(out) == ["lib"]
    assert os.listdir(out / "lib/modules") == [RELEASE]


def test_main_without_depmod_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(modules_install, "DEPMOD_PATHS", (str(tmp_path / "no-depmod"),))
    with pytest.raises(SystemExit, match="no depmod at .*no-depmod; install Debian's kmod"):
        modules_install.main(["--out=o", "--release_file=r", "--order=m"])
