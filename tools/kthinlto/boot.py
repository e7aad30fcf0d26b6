"""Boots a built kernel in QEMU (software emulation) into a tiny initramfs.

The initramfs holds /dev/console and one static program, /init, which
prints a marker line on the console and restarts the machine; QEMU runs
with -no-reboot, so it exits by itself.  Passes only when the marker appears
on the serial console and QEMU exits within the time limit.

With --modules (a modules_install tree: lib/modules/<release>, or a
directory holding one), the initramfs also holds its .ko files and /init
first loads each with finit_module, dependencies first (modules.dep,
read here); a module that fails to load prints a line naming it and the
errno, and then no marker.

  python3 -m tools.kthinlto.boot --kernel=bazel-bin/external/kernel/image/bzImage \\
      --kconfig=<objtree>/.config     # x86_64 (qemu-system-x86_64 -machine q35)
  python3 -m tools.kthinlto.boot --kernel=bazel-bin/external/kernel/image/Image \\
      --kconfig=<objtree>/.config     # arm64 (qemu-system-aarch64 -machine virt)
  python3 -m tools.kthinlto.boot ... \
      --modules=bazel-bin/external/kernel/modules/install   # also load //:modules
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
enum { SYS_write = 1, SYS_close = 3, SYS_exit = 60, SYS_reboot = 169,
       SYS_openat = 257, SYS_finit_module = 313 };
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
enum { SYS_write = 64, SYS_close = 57, SYS_exit = 93, SYS_reboot = 142,
       SYS_openat = 56, SYS_finit_module = 273 };
""",
}

# Loads one module file: openat(AT_FDCWD, path, O_RDONLY), then
# finit_module(fd, "", 0).  On failure it writes "<what> <path>: error -N"
# and returns the (negative) result.  `what` and `path` end in NUL.
_LOAD = """\
static void put(const char *s) {
    long n = 0;
    while (s[n])
        n++;
    sys4(SYS_write, 1, (long)s, n, 0);
}
static void put_error(const char *what, const char *path, long err) {
    char digits[24];
    int i = sizeof digits;
    unsigned long u = -err;
    digits[--i] = 0;
    digits[--i] = '\\n';
    do
        digits[--i] = '0' + u % 10;
    while (u /= 10);
    put(what);
    put(path);
    put(": error -");
    put(digits + i);
}
static long load(const char *path) {
    long fd = sys4(SYS_openat, -100 /* AT_FDCWD */, (long)path, 0 /* O_RDONLY */, 0);
    if (fd < 0) {
        put_error("init: cannot open ", path, fd);
        return fd;
    }
    long r = sys4(SYS_finit_module, fd, (long)"", 0, 0);
    sys4(SYS_close, fd, 0, 0, 0);
    if (r < 0)
        put_error("init: finit_module failed: ", path, r);
    return r;
}
"""


def _c_string(text: str) -> str:
    """text as a C string literal (printable ASCII; quotes and backslashes escaped)."""
    if not text.isascii() or not text.isprintable():
        raise ValueError(f"not printable ASCII: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def init_source(marker: str, arch: str = "x86_64", modules: tuple[str, ...] = ()) -> str:
    """A freestanding /init for arch: loads each of modules (absolute paths
    in the initramfs, in this order) with finit_module, then writes the
    marker line to fd 1 (the console the kernel opened for init), then
    reboot(RESTART).  A module that fails to load ends the list: its error
    is written instead of the marker."""
    line = marker.encode() + b"\n"
    data = ", ".join(str(b) for b in line)
    src = _SYSCALLS[arch]
    loads = label = ""
    if modules:
        src += _LOAD
        loads = "".join(f"    if (load({_c_string(m)}) < 0)\n        goto out;\n"
                        for m in modules)
        label = "out:\n"
    return src + f"""\
static const char line[] = {{{data}}};
void _start(void) {{
{loads}    sys4(SYS_write, 1, (long)line, sizeof line, 0);
{label}    sys4(SYS_reboot, 0xfee1dead, 0x28121969, 0x01234567, 0);   /* RESTART */
    for (;;)
        sys4(SYS_exit, 0, 0, 0, 0);
}}
"""


def parse_modules_dep(text: str) -> dict[str, list[str]]:
    """modules.dep ("kernel/a.ko: kernel/b.ko kernel/c.ko" per line) as
    module -> the modules it needs, in the listed order."""
    deps = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        module, sep, needs = line.partition(":")
        if not sep:
            raise ValueError(f"modules.dep: not 'module: deps': {line!r}")
        deps[module.strip()] = needs.split()
    return deps


def load_order(modules_dep: str, modules_order: str = "") -> list[str]:
    """Every module of modules.dep, each after all it needs: modules.order's
    order (then modules.dep's for the rest) wherever that allows."""
    deps = parse_modules_dep(modules_dep)
    wanted = [m for m in modules_order.split() if m in deps]
    wanted += [m for m in deps if m not in wanted]
    order: list[str] = []
    visiting: list[str] = []

    def visit(module: str) -> None:
        if module in order:
            return
        if module in visiting:
            cycle = visiting[visiting.index(module):] + [module]
            raise ValueError("modules.dep: a dependency cycle: " + " -> ".join(cycle))
        if module not in deps:
            raise ValueError(f"modules.dep: {visiting[-1]} needs {module}, which it does not list")
        visiting.append(module)
        for need in deps[module]:  # each with its own needs first
            visit(need)
        visiting.pop()
        order.append(module)

    for module in wanted:
        visit(module)
    return order


def directories(paths) -> list[str]:
    """Every directory the relative paths are in (a/b/c -> a, a/b), each
    once, each after its parent."""
    out: list[str] = []
    for path in paths:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in out:
                out.append(d)
    return out


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


def initramfs(init: bytes, files: tuple[tuple[str, bytes], ...] = ()) -> bytes:
    """A newc cpio with /dev/console (char 5:1), /init, and files (relative
    path, content; read-only), with an entry for each of their directories."""
    entries = [
        _cpio_entry("dev", 0o040755, ino=1),
        _cpio_entry("dev/console", 0o020600, rdev=(5, 1), ino=2),
        _cpio_entry("init", 0o100755, init, ino=3),
    ]
    for d in directories(p for p, _ in files):
        entries.append(_cpio_entry(d, 0o040755, ino=len(entries) + 1))
    for path, data in files:
        entries.append(_cpio_entry(path, 0o100444, data, ino=len(entries) + 1))
    entries.append(_cpio_entry("TRAILER!!!", 0, ino=0))
    archive = b"".join(entries)
    return archive + b"\0" * (-len(archive) % 512)


def release_dir(path: str) -> str:
    """The lib/modules/<release> directory of a modules_install tree: path
    itself if it holds modules.dep, else the one release under
    path/lib/modules (or path, if it is lib/modules)."""
    if os.path.isfile(os.path.join(path, "modules.dep")):
        return path
    for top in (os.path.join(path, "lib", "modules"), path):
        if os.path.isdir(top):
            releases = [d for d in sorted(os.listdir(top))
                        if os.path.isfile(os.path.join(top, d, "modules.dep"))]
            if len(releases) == 1:
                return os.path.join(top, releases[0])
            if releases:
                raise ValueError(f"{top}: more than one kernel release: {', '.join(releases)}")
    raise ValueError(f"{path}: no modules.dep, nor one lib/modules/<release> holding one")


def read_modules(path: str) -> tuple[tuple[str, bytes], ...]:
    """The .ko files of a modules_install tree (see release_dir) in load
    order, each as (its path in the initramfs, lib/modules/<release>/...,
    its content)."""
    release = release_dir(path)
    texts = {}
    for name in ("modules.dep", "modules.order"):
        file = os.path.join(release, name)
        texts[name] = ""
        if os.path.isfile(file):
            with open(file) as f:
                texts[name] = f.read()
    prefix = f"lib/modules/{os.path.basename(os.path.normpath(release))}/"
    out = []
    for module in load_order(texts["modules.dep"], texts["modules.order"]):
        with open(os.path.join(release, module), "rb") as f:
            out.append((prefix + module, f.read()))
    return tuple(out)


def qemu_command(kernel: str, initrd: str, arch: Arch = ARCHES["x86_64"]) -> list[str]:
    return [*arch.qemu, "-nographic", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
            "-append", f"console={arch.console} panic=-1"]


def build_init(marker: str, out: str, arch: Arch = ARCHES["x86_64"],
               clang: str = Toolchain().clang, modules: tuple[str, ...] = ()) -> None:
    """Compiles init_source(marker, arch, modules) into a static program, out."""
    src = out + ".c"
    with open(src, "w") as f:
        f.write(init_source(marker, arch.name, modules))
    subprocess.run([clang, f"--target={arch.clang_target}", "-O2", "-static", "-nostdlib",
                    "-ffreestanding", "-fno-stack-protector", "-fuse-ld=lld",
                    "-Wl,--build-id=none", "-o", out, src], check=True)


def boot(kernel: str, marker: str, timeout: float, work: str,
         echo=None, arch: Arch = ARCHES["x86_64"],
         modules: str | None = None) -> tuple[bool, bool, str]:
    """Boots kernel, loading the .ko files of the modules_install tree
    modules (see release_dir) if given; returns (marker seen, QEMU exited
    by itself, console)."""
    files = read_modules(modules) if modules else ()
    init = os.path.join(work, "init")
    build_init(marker, init, arch, modules=tuple("/" + p for p, _ in files))
    with open(init, "rb") as f:
        cpio = initramfs(f.read(), files)
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
flags.DEFINE_string("modules", None, "A modules_install tree (lib/modules/<release>, or a "
                    "directory holding lib/modules/<one release>) whose .ko files /init "
                    "loads before it prints the marker.")


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
    if FLAGS.modules:
        if config.get("CONFIG_MODULES") != "y":
            print(f"kthinlto: error: {FLAGS.kconfig}: --modules given but CONFIG_MODULES "
                  f"is not set", file=sys.stderr)
            return 1
        try:
            release_dir(FLAGS.modules)
        except ValueError as e:
            print(f"kthinlto: error: --modules: {e}", file=sys.stderr)
            return 1
    marker = "KTHINLTO-BOOTED-" + secrets.token_hex(8)
    with tempfile.TemporaryDirectory(prefix="kthinlto-boot-") as work:
        start = time.monotonic()
        seen, exited, _ = boot(FLAGS.kernel, marker, FLAGS.timeout, work,
                               echo=lambda b: (sys.stdout.buffer.write(b), sys.stdout.flush()),
                               arch=arch, modules=FLAGS.modules)
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
