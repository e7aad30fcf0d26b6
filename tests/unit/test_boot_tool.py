"""tools/kthinlto/boot.py: the boot check, initramfs and /init (with the
modules it loads), without QEMU.

(/init is never run here: on the host it would ask to restart the machine.)
"""

import re
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


def _cpio_listing(archive) -> list[str]:
    return subprocess.run(["cpio", "-itv", "-F", str(archive)], check=True,
                          capture_output=True, text=True).stdout.splitlines()


def test_initramfs_is_a_newc_cpio_with_console_and_init(tmp_path):
    archive = tmp_path / "initramfs.cpio"
    archive.write_bytes(boot.initramfs(b"\x7fELF-not-really"))
    listing = _cpio_listing(archive)
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


# A modules.dep as depmod writes it (each module with all it needs),
# and a modules.order that lists two modules before what they need.
MODULES_DEP = """\
kernel/fs/top.ko: kernel/fs/mid.ko kernel/lib/base.ko
kernel/fs/mid.ko: kernel/lib/base.ko
kernel/lib/base.ko:
kernel/lib/alone.ko:
kernel/extra.ko:
"""
MODULES_ORDER = "kernel/fs/top.ko\nkernel/lib/alone.ko\nkernel/fs/mid.ko\nkernel/lib/base.ko\n"


def test_load_order_puts_each_module_after_what_it_needs():
    assert boot.load_order(MODULES_DEP, MODULES_ORDER) == [
        "kernel/lib/base.ko", "kernel/fs/mid.ko", "kernel/fs/top.ko", "kernel/lib/alone.ko",
        "kernel/extra.ko"]  # not in modules.order: after those that are
    # Without modules.order: modules.dep's order, needs first.
    assert boot.load_order(MODULES_DEP) == [
        "kernel/lib/base.ko", "kernel/fs/mid.ko", "kernel/fs/top.ko", "kernel/lib/alone.ko",
        "kernel/extra.ko"]
    assert boot.load_order("") == []


def test_load_order_refuses_a_cycle_and_a_need_it_does_not_list():
    with pytest.raises(ValueError, match="cycle: a.ko -> b.ko -> a.ko"):
        boot.load_order("a.ko: b.ko\nb.ko: a.ko\n")
    with pytest.raises(ValueError, match="a.ko needs gone.ko"):
        boot.load_order("a.ko: gone.ko\n")
    with pytest.raises(ValueError, match="not 'module: deps'"):
        boot.load_order("a.ko b.ko\n")


def test_initramfs_holds_the_modules_under_their_directories(tmp_path):
    files = (("lib/modules/6.1/kernel/fs/fuse/fuse.ko", b"fuse-ko"),
             ("lib/modules/6.1/kernel/lib/test_module.ko", b"test-ko"))
    archive = tmp_path / "initramfs.cpio"
    archive.write_bytes(boot.initramfs(b"init", files))
    listing = _cpio_listing(archive)
    assert [l.split()[-1] for l in listing] == [
        "dev", "dev/console", "init", "lib", "lib/modules", "lib/modules/6.1",
        "lib/modules/6.1/kernel", "lib/modules/6.1/kernel/fs", "lib/modules/6.1/kernel/fs/fuse",
        "lib/modules/6.1/kernel/lib", *(p for p, _ in files)]
    assert all(l.startswith("drwxr-xr-x") for l in listing[3:-2])
    assert all(l.startswith("-r--r--r--") for l in listing[-2:])
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["cpio", "-id", "--no-absolute-filenames", "-F", str(archive)],
                   cwd=out, check=True, capture_output=True)
    for path, data in files:
        assert (out / path).read_bytes() == data


def test_read_modules_reads_a_modules_install_tree_in_load_order(tmp_path):
    release = tmp_path / "install" / "lib" / "modules" / "6.1.192"
    (release / "kernel" / "fs").mkdir(parents=True)
    (release / "kernel" / "lib").mkdir()
    (release / "modules.dep").write_text(MODULES_DEP)
    (release / "modules.order").write_text(MODULES_ORDER)
    for module in boot.parse_modules_dep(MODULES_DEP):
        (release / module).write_bytes(module.encode())
    # The release directory itself, lib/modules, or the install tree above.
    for path in (release, release.parent, tmp_path / "install"):
        assert boot.release_dir(str(path)) == str(release)
        files = boot.read_modules(str(path))
        assert [p for p, _ in files] == [
            "lib/modules/6.1.192/" + m for m in boot.load_order(MODULES_DEP, MODULES_ORDER)]
        assert all(data == p.split("/", 3)[3].encode() for p, data in files)
    (release.parent / "6.12").mkdir()
    (release.parent / "6.12" / "modules.dep").write_text("")
    with pytest.raises(ValueError, match="more than one kernel release: 6.1.192, 6.12"):
        boot.release_dir(str(tmp_path / "install"))
    with pytest.raises(ValueError, match="no modules.dep"):
        boot.release_dir(str(tmp_path))


@pytest.mark.parametrize("arch,finit_module,openat", [("x86_64", 313, 257), ("arm64", 273, 56)])
def test_init_source_loads_the_modules_in_order_then_writes_the_marker(arch, finit_module,
                                                                       openat):
    modules = ("/lib/modules/6.1/kernel/lib/base.ko", "/lib/modules/6.1/kernel/fs/top.ko")
    src = boot.init_source("KTHINLTO-BOOTED-test", arch, modules)
    assert f"SYS_finit_module = {finit_module}" in src and f"SYS_openat = {openat}" in src
    assert "sys4(SYS_finit_module, fd," in src and "sys4(SYS_openat, -100" in src
    body = src[src.index("void _start(void)"):]
    assert re.findall(r'load\("([^"]*)"\)', body) == list(modules)
    # Each failure skips the marker; the marker comes after every load.
    assert body.count("goto out;") == 2
    assert body.index(modules[-1]) < body.index("sys4(SYS_write, 1, (long)line") < \
        body.index("out:")
    # Without modules: no loader at all.
    assert "finit_module(" not in boot.init_source("M", arch) and \
        "load(" not in boot.init_source("M", arch)


def test_init_source_quotes_module_paths_as_c_strings():
    src = boot.init_source("M", "x86_64", ('/lib/a"b\\c.ko',))
    assert 'load("/lib/a\\"b\\\\c.ko")' in src
    with pytest.raises(ValueError, match="not printable ASCII"):
        boot.init_source("M", "x86_64", ("/lib/a\nb.ko",))


@pytest.mark.parametrize("arch", [X86, ARM64], ids=lambda a: a.name)
def test_init_that_loads_modules_is_freestanding(tmp_path, arch):
    init = tmp_path / "init"
    modules = ("/lib/modules/6.1/kernel/fs/fuse/fuse.ko", "/lib/modules/6.1/kernel/lib/t.ko")
    boot.build_init("KTHINLTO-BOOTED-test", str(init), arch, modules=modules)
    undefined = subprocess.run([TC.tool("llvm-nm"), "--undefined-only", str(init)], check=True,
                               capture_output=True, text=True).stdout
    assert undefined == ""  # no libc (memset, strlen ...) called
    data = init.read_bytes()
    assert all(m.encode() + b"\0" in data for m in modules)
    assert b"init: finit_module failed: \0" in data
