"""The kernel boots: the boot image (bzImage, arm64's Image) from Bazel's
vmlinux.o, in QEMU (software emulation), into an initramfs whose /init
loads Bazel's loadable modules (//:modules: lib/test_module.ko, which
prints "Hello, world", and fs/fuse/fuse.ko, "fuse: init"; finit_module,
in modules.dep's order), then prints a marker and restarts the machine
(QEMU runs with -no-reboot and exits).  Kbuild's own in-process ThinLTO
image of the same tree and config is the control (booted without
modules).  For every kernel and architecture in kernels.CONFIGS (6.1 and
6.12 x86_64, 6.12 arm64), each tinyconfig plus its bootable fragment."""

import collections
import os
import secrets
import subprocess
import sys

import pytest

from tests.e2e import kernels
from tools.kthinlto import boot
from tools.kthinlto.kbuild import Toolchain

TC = Toolchain()

# Software emulation of a tiny kernel takes seconds; a hang takes this long.
BOOT_TIMEOUT = 300


@pytest.fixture(scope="session")
def bootable(kernel):
    return kernel


@pytest.fixture(scope="session")
def bazel_image(bootable, disk_cache) -> dict:
    image = bootable.arch.image
    targets = (image, "vmlinux", "System.map", "modules")
    bootable.ws.bazel("build", *(bootable.target(t) for t in targets),
                      f"--disk_cache={disk_cache}")
    out = os.path.join(bootable.bazel_bin(), "image")
    paths = {name: os.path.join(out, name) for name in ("vmlinux", "System.map")}
    paths["image"] = os.path.join(out, image)
    paths["modules"] = bootable.modules_dir()  # lib/modules/<release>
    return paths


def _boot(kernel: str, arch, tmp_path, modules=None) -> tuple[bool, bool, str, str]:
    marker = "KTHINLTO-BOOTED-" + secrets.token_hex(8)
    seen, exited, console = boot.boot(kernel, marker, BOOT_TIMEOUT, str(tmp_path),
                                      arch=arch, modules=modules)
    print(console[-3000:])
    return seen, exited, console, marker


def test_bazel_image_loads_bazels_modules_and_boots_to_the_marker(bootable, bazel_image,
                                                                  tmp_path):
    modules = bazel_image["modules"]
    with open(os.path.join(modules, "modules.order")) as f:
        assert set(f.read().split()) >= {"kernel/fs/fuse/fuse.ko", "kernel/lib/test_module.ko"}
    seen, exited, console, marker = _boot(bazel_image["image"], bootable.arch, tmp_path,
                                          modules)
    # /init names a module that fails to load, and then prints no marker.
    failed = [l for l in console.splitlines()
              if "init: finit_module failed" in l or "init: cannot open" in l]
    assert not failed, failed
    assert seen, f"{marker} not on the console:\n{console[-3000:]}"
    assert exited, "QEMU did not exit by itself"
    # Each module's init function ran: test_module's and FUSE's messages.
    assert "Hello, world" in console and "fuse: init (API version" in console, console[-3000:]
    # The kernel that booted carries the graph's pinned build stamp.
    assert "(kthinlto@kthinlto)" in console


def test_kbuild_image_of_the_same_config_boots_to_the_marker(bootable, tmp_path):
    # The control: Kbuild's own in-process ThinLTO build, same tree and config.
    seen, exited, console, marker = _boot(kernels.kbuild_image(bootable), bootable.arch,
                                          tmp_path)
    assert seen and exited, console[-3000:]


def test_vmlinux_defines_kbuilds_symbols_and_has_a_system_map(bootable, bazel_image):
    ours = kernels.symbols(bazel_image["vmlinux"])
    theirs = kernels.symbols(os.path.join(bootable.reference, "vmlinux"))
    assert len(ours) > 1000
    # The same names, kinds and bindings (kernels.symbols: one rule for
    # every comparison with Kbuild), but for the aliases whose hidden weak
    # twin the distributed thin link dropped (kernels.hidden_by_kbuild_only,
    # found in vmlinux.o): the final link made Kbuild's local (t), ours
    # stay global (T).
    lost = kernels.hidden_by_kbuild_only(
        bootable.vmlinux_o, os.path.join(bootable.reference, "vmlinux.o"))
    print(f"global here, local in Kbuild's vmlinux: {lost}")
    expected = collections.Counter()
    for (t, n), count in theirs.items():
        expected[(t.upper() if n in lost else t, n)] += count
    theirs = expected
    missing = sorted(theirs - ours)[:20]
    extra = sorted(ours - theirs)[:20]
    assert not missing and not extra, f"missing {missing}\nextra {extra}"
    with open(bazel_image["System.map"]) as f:
        names = {line.split()[2] for line in f if len(line.split()) == 3}
    assert "start_kernel" in names and "_text" in names


def test_boot_refuses_a_config_that_cannot_boot(default_kernel, tmp_path):
    # The default kernel's real .config without its serial console, tty and
    # initramfs support (as plain tinyconfig has them).
    dropped = ("CONFIG_SERIAL_8250_CONSOLE", "CONFIG_BLK_DEV_INITRD", "CONFIG_TTY")
    config = str(tmp_path / ".config")
    with open(os.path.join(default_kernel.objtree, ".config")) as src, open(config, "w") as dst:
        for line in src:
            name = line.split("=")[0]
            dst.write(f"# {name} is not set\n" if name in dropped else line)
    proc = subprocess.run([sys.executable, "-m", "tools.kthinlto.boot",
                           "--kernel=/nonexistent/bzImage", f"--kconfig={config}"],
                          cwd=kernels.REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    (line,) = [l for l in proc.stderr.splitlines() if l.startswith("kthinlto: error:")]
    assert config in line
    for option in ("CONFIG_SERIAL_8250_CONSOLE", "CONFIG_BLK_DEV_INITRD", "CONFIG_TTY"):
        assert option in line, line
    assert "--fragment=configs/bootable.config" in line
