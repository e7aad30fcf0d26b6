"""Boots a built kernel in QEMU (software emulation) into a tiny initramfs.

The initramfs holds /dev/console and one static program, /init, which
prints a marker line on the console and restarts the machine; QEMU runs
with -no-reboot, so it exits by itself.  Passes only when the marker appears
on the serial console and QEMU exits within the time limit.

  python3 -m tools.kthinlto.boot --kernel=bazel-bin/external/kernel/image/bzImage \\
      --kconfig=<objtree>/.config     # x86_64 (qemu-system-x86_64 -machine q35)
  python3 -m tools.kthinlto.boot --kernel=bazel-bin/external/kernel/image/Image \\
      --kconfig=<objtree>/.config     # arm64 (qemu-system-aarch64 -machine virt)
  ./kthin boot      # the same for the configured kernel, after bazel build

A config that cannot boot this way is refused before QEMU starts, naming
what is missing.
"""

import os
import secrets
import selectors
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from tools.kthinlto.arches import ARCHES, Arch, of_config
from tools.kthinlto.kbuild import Toolchain, read_config

def missing_boot_options(config: dict[str, str], arch: Arch) -> list[str]:
    """Options of arch.boot_options that config (CONFIG_X -> value) does not set to y."""
    return [k for k in arch.boot_options if config.get(k) != "y"]


# A system call of up to four arguments, per architecture: the number in
# rax / x8, the arguments in the registers the kernel's ABI names.
_SYSCALLS = {
    "x86_64": """\
static long sys4(long n, long a, long b, long c, long d) {
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}
enum { SYS_write = 1, SYS_exit = 60, SYS_reboot = 169 };
""",
    "arm64": """\
static long sys4(long n, long a, long b, long c, long d) {
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
}
enum { SYS_write = 64, SYS_exit = 93, SYS_reboot = 142 };
""",
}


def init_source(marker: str, arch: str = "x86_64") -> str:
    """A freestanding /init for arch: writes the marker line to fd 1 (the
    console the kernel opened for init), then reboot(RESTART)."""
    line = marker.encode() + b"\n"
    data = ", ".join(str(b) for b in line)
    return _SYSCALLS[arch] + f"""\
static const char line[] = {{{data}}};
void _start(void) {{
    sys4(SYS_write, 1, (long)line, sizeof line, 0);
    sys4(SYS_reboot, 0xfee1dead, 0x28121969, 0x01234567, 0);   /* RESTART */
    for (;;)
        sys4(SYS_exit, 0, 0, 0, 0);
}}
"""


def _cpio_entry(name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0),
                ino: int = 1) -> bytes:
    """One entry of a newc cpio archive (the initramfs format)."""
    name_bytes = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
              len(name_bytes), 0]
    header = b"070701" + b"".join(b"%08X" % f for f in fields)
    out = header + name_bytes
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


def initramfs(init: bytes) -> bytes:
    """A newc cpio with /dev/console (char 5:1) and /init."""
    entries = [
        _cpio_entry("dev", 0o040755, ino=1),
        _cpio_entry("dev/console", 0o020600, rdev=(5, 1), ino=2),
        _cpio_entry("init", 0o100755, init, ino=3),
        _cpio_entry("TRAILER!!!", 0, ino=0),
    ]
    archive = b"".join(entries)
    return archive + b"\0" * (-len(archive) % 512)


def qemu_command(kernel: str, initrd: str, arch: Arch = ARCHES["x86_64"]) -> list[str]:
    return [*arch.qemu, "-nographic", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
            "-append", f"console={arch.console} panic=-1"]


def build_init(marker: str, out: str, arch: Arch = ARCHES["x86_64"],
               clang: str = Toolchain().clang) -> None:
    src = out + ".c"
    with open(src, "w") as f:
        f.write(init_source(marker, arch.name))
    subprocess.run([clang, f"--target={arch.clang_target}", "-O2", "-static", "-nostdlib",
                    "-ffreestanding", "-fno-stack-protector", "-fuse-ld=lld",
                    "-Wl,--build-id=none", "-o", out, src], check=True)


def boot(kernel: str, marker: str, timeout: float, work: str,
         echo=None, arch: Arch = ARCHES["x86_64"]) -> tuple[bool, bool, str]:
    """Boots kernel; returns (marker seen, QEMU exited by itself, console)."""
    init = os.path.join(work, "init")
    build_init(marker, init, arch)
    with open(init, "rb") as f:
        cpio = initramfs(f.read())
    initrd = os.path.join(work, "initramfs.cpio")
    with open(initrd, "wb") as f:
        f.write(cpio)
    proc = subprocess.Popen(qemu_command(kernel, initrd, arch), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    console = b""
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    exited = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if sel.select(min(left, 1.0)):
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:  # QEMU closed the console: it is exiting
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                    exited = True
                except subprocess.TimeoutExpired:
                    pass
                break
            console += chunk
            if echo:
                echo(chunk)
    if not exited:
        proc.kill()
        proc.wait()
    text = console.decode(errors="replace")
    # The marker ends a line; the firmware's escape sequences may precede it.
    seen = (marker + "\n") in text.replace("\r", "")
    return seen, exited, text


FLAGS = flags.FLAGS
flags.DEFINE_string("kernel", "", "The boot image to boot (none: only check the config "
                    "and print the image's Bazel target, //:bzImage or //:Image).")
flags.DEFINE_string("kconfig", None, "The kernel's .config (checked before booting).")
flags.DEFINE_float("timeout", 300, "Seconds until the boot counts as hung.")


def main(argv):
    del argv
    if not os.path.isfile(FLAGS.kconfig):
        print(f"kthinlto: error: {FLAGS.kconfig}: no such .config; translate a kernel "
              f"first (./kthin configure --fragment={ARCHES['x86_64'].bootable_fragment})", file=sys.stderr)
        return 1
    config = read_config(FLAGS.kconfig)
    arch = of_config(config)
    if arch is None:
        print(f"kthinlto: error: {FLAGS.kconfig}: not a kernel of an architecture kthinlto "
              f"boots ({', '.join(ARCHES)}); translate one with --arch", file=sys.stderr)
        return 1
    missing = missing_boot_options(config, arch)
    if missing:
        print(f"kthinlto: error: {FLAGS.kconfig}: cannot boot to a serial console "
              f"into an initramfs: not set: "
              + ", ".join(f"{k} ({arch.boot_options[k]})" for k in missing)
              + f"; translate with --fragment={arch.bootable_fragment}", file=sys.stderr)
        return 1
    if not FLAGS.kernel:
        print(f"//:{arch.image}")
        return 0
    if not os.path.isfile(FLAGS.kernel):
        print(f"kthinlto: error: {FLAGS.kernel}: no such kernel image", file=sys.stderr)
        return 1
    marker = "KTHINLTO-BOOTED-" + secrets.token_hex(8)
    with tempfile.TemporaryDirectory(prefix="kthinlto-boot-") as work:
        start = time.monotonic()
        seen, exited, _ = boot(FLAGS.kernel, marker, FLAGS.timeout, work,
                               echo=lambda b: (sys.stdout.buffer.write(b), sys.stdout.flush()),
                               arch=arch)
    took = time.monotonic() - start
    if seen and exited:
        print(f"\nkthinlto: booted: marker {marker} on the console, QEMU exited after {took:.0f} s")
        return 0
    what = "no marker on the console" if not seen else "QEMU did not exit"
    print(f"\nkthinlto: error: boot failed after {took:.0f} s: {what}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    flags.mark_flags_as_required(["kconfig"])
    app.run(main)
