"""tools/kthinlto/boot.py: the boot check, initramfs and /init, without QEMU.

(/init is never run here: on the host it would ask to restart the machine.)
"""

import subprocess

from tools.kthinlto import boot


def test_missing_boot_options_names_each_unset_option():
    config = {k: "y" for k in boot.BOOT_OPTIONS}
    assert boot.missing_boot_options(config) == []
    del config["CONFIG_SERIAL_8250_CONSOLE"]
    config["CONFIG_BLK_DEV_INITRD"] = "n"
    assert boot.missing_boot_options(config) == ["CONFIG_SERIAL_8250_CONSOLE",
                                                 "CONFIG_BLK_DEV_INITRD"]


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


def test_init_is_a_static_elf_that_holds_the_marker(tmp_path):
    init = tmp_path / "init"
    boot.build_init("KTHINLTO-BOOTED-test", str(init))
    headers = subprocess.run(["llvm-readelf-19", "-h", "-l", str(init)], check=True,
                             capture_output=True, text=True).stdout
    assert "EXEC (Executable file)" in headers and "X86-64" in headers
    assert "INTERP" not in headers and "DYNAMIC" not in headers
    assert b"KTHINLTO-BOOTED-test\n" in init.read_bytes()
