"""What kthinlto knows of each kernel architecture, in one place.

The translation works for any ARCH that Kbuild and Clang ThinLTO build (its
SRCARCH is ARCH unless listed here); the boot image, and booting it in QEMU,
need an entry in ARCHES.  The rules, launchers, boot tool and tests read
these facts from here (through the translation's KERNEL["config"]).
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Arch:
    """One kernel architecture.

    name: Kbuild's ARCH (x86_64, arm64); srcarch: its directory under arch/
    (Kbuild's SRCARCH); kconfig: the option a .config of this ARCH sets;
    image: Kbuild's boot image target (bzImage, Image); image_path: where
    Kbuild writes it, objtree-relative; clang_target: the triple user-space
    programs (the boot test's /init) are compiled for; qemu: the QEMU
    command line up to -kernel; console: the kernel's serial console
    device; boot_options: options a serial-console boot into an initramfs
    needs (CONFIG_X -> why); bootable_fragment: the project's config
    fragment (on top of tinyconfig) that sets them.
    """
    name: str
    srcarch: str
    kconfig: str
    image: str
    image_path: str
    clang_target: str
    qemu: tuple[str, ...]
    console: str
    boot_options: dict[str, str]
    bootable_fragment: str


_COMMON_BOOT = {
    "CONFIG_PRINTK": "kernel messages",
    "CONFIG_TTY": "a console device",
    "CONFIG_BLK_DEV_INITRD": "initramfs support",
    "CONFIG_BINFMT_ELF": "running the ELF /init",
}

ARCHES = {
    "x86_64": Arch(
        name="x86_64", srcarch="x86", kconfig="CONFIG_X86_64",
        image="bzImage", image_path="arch/x86/boot/bzImage",
        clang_target="x86_64-linux-gnu",
        qemu=("qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-m", "256"),
        console="ttyS0",
        boot_options={
            "CONFIG_64BIT": "a 64-bit kernel (qemu-system-x86_64 boots it directly)",
            **_COMMON_BOOT,
            "CONFIG_SERIAL_8250": "the PC serial port driver",
            "CONFIG_SERIAL_8250_CONSOLE": "a console on the serial port (console=ttyS0)",
        },
        bootable_fragment="configs/bootable.config"),
    "arm64": Arch(
        name="arm64", srcarch="arm64", kconfig="CONFIG_ARM64",
        image="Image", image_path="arch/arm64/boot/Image",
        clang_target="aarch64-linux-gnu",
        qemu=("qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a57",
              "-accel", "tcg", "-m", "256"),
        console="ttyAMA0",
        boot_options={
            **_COMMON_BOOT,
            "CONFIG_SERIAL_AMBA_PL011": "the virt machine's PL011 serial port driver",
            "CONFIG_SERIAL_AMBA_PL011_CONSOLE": "a console on it (console=ttyAMA0)",
        },
        bootable_fragment="configs/bootable-arm64.config"),
}

# Other spellings of the same SRCARCH (Kbuild accepts ARCH=x86 and i386).
_SRCARCH = {"i386": "x86", "x86": "x86"}


def srcarch(arch: str) -> str:
    """Kbuild's SRCARCH for ARCH (x86_64 -> x86, arm64 -> arm64)."""
    if arch in ARCHES:
        return ARCHES[arch].srcarch
    return _SRCARCH.get(arch, arch)


def of_config(config: dict[str, str]) -> Arch | None:
    """The architecture a .config (CONFIG_X -> value) is for, if known."""
    for arch in ARCHES.values():
        if config.get(arch.kconfig) == "y":
            return arch
    return None
