"""tools/kthinlto/boot.py: the boot check, initramfs and /init, without QEMU.

(/init is never run here: on the host it would ask to restart the machine.)
"""

import subprocess

import pytest

from tools.kthinlto import boot
from tools.kthinlto.arches import ARCHES, of_config
from tools.kthinlto.kbuild import Toolchain

TC = Toolchain()

X86, ARM64 = ARCHES["x86_64"], ARCHES["arm64"]


def test_missing_boot_options_names_each_unset_option():
    config = {k: "y" for k in X86.boot_options}
    assert boot.missing_boot_options(config, X86) == []
    del config["CONFIG_SERIAL_8250_CONSOLE"]
    config["CONFIG_BLK_DEV_INITRD"] = "n"
    assert boot.missing_boot_options(config, X86) == ["CONFIG_BLK_DEV_INITRD",
                                                      "CONFIG_SERIAL_8250_CONSOLE"]


def test_arm64_boot_needs_the_pl011_console_not_the_pc_serial_port():
    config = {k: "y" for k in X86.boot_options}
    assert boot.missing_boot_options(config, ARM64) == [
        "CONFIG_SERIAL_AMBA_PL011", "CONFIG_SERIAL_AMBA_PL011_CONSOLE"]


def test_the_architecture_comes_from_the_config():
    assert of_config({"CONFIG_X86_64": "y"}) is X86
    assert of_config({"CONFIG_ARM64": "y"}) is ARM64
    assert of_config({"CONFIG_RISCV": "y"}) is None


def test_qemu_command_boots_each_arch_on_its_serial_console():
    x86 = boot.qemu_command("k", "i", X86)
    arm = boot.qemu_command("k", "i", ARM64)
    assert x86[0] == "qemu-system-x86_64" and "console=ttyS0 panic=-1" in x86
    assert arm[:3] == ["qemu-system-aarch64", "-machine", "virt"]
    assert "console=ttyAMA0 panic=-1" in arm
    assert "-no-reboot" in arm and arm[arm.index("-kernel") + 1] == "k"


def test_initramfs_is_a_newc_cpio_with_console_and_init(tmp_path):
    archive = tmp_path / "initramfs.cpio"
    archive.write_bytes(boot.initramfs(b"\x7fELF-not-really"))
    listing = subprocess.run(["cpio", "-itv", "-F", str(archive)], check=True,
                             capture_output=True, text=True).stdout.splitlines()
    assert [l.split()[-1] for l in listing] == ["dev", "dev/console", "init"]
    assert listing[1].startswith("crw-------") and "5,   1" in listing[1]
    assert listing[2].startswith("-rwxr-xr-x")
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["cpio", "-id", "--no-absolute-filenames", "-F", str(archive), "init"],
                   cwd=out, check=True, capture_output=True)
    assert (out / "init").read_bytes() == b"\x7fELF-not-really"


@pytest.mark.parametrize("arch,machine", [(X86, "X86-64"), (ARM64, "AArch64")])
def test_init_is_a_static_elf_that_holds_the_marker(tmp_path, arch, machine):
    init = tmp_path / "init"
    boot.build_init("KTHINLTO-BOOTED-test", str(init), arch)
    headers = subprocess.run([TC.tool("llvm-readelf"), "-h", "-l", str(init)], check=True,
                             capture_output=True, text=True).stdout
    assert "EXEC (Executable file)" in headers and machine in headers
    assert "INTERP" not in headers and "DYNAMIC" not in headers
    assert b"KTHINLTO-BOOTED-test\n" in init.read_bytes()
