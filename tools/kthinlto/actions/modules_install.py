"""The modules as `make modules_install` lays them out, then depmod.

  modules_install.py --out=DIR --release_file=include/config/kernel.release
      --order=modules.order --builtin=modules.builtin
      --builtin=modules.builtin.modinfo -- dir/x.ko=FILE ...

Kbuild's modules_install (the top Makefile's __modinst_pre in 6.1,
scripts/Makefile.modinst in 6.12, then scripts/depmod.sh), for the
configurations kthinlto builds (no signing, no compression, no stripping:
the translation refuses those options), over the Bazel-built .ko files:

  DIR/lib/modules/RELEASE/kernel/dir/x.ko      each module, copied
  DIR/lib/modules/RELEASE/modules.order        Kbuild's, each line kernel/dir/x.ko
  DIR/lib/modules/RELEASE/modules.builtin      each --builtin file, copied
  DIR/lib/modules/RELEASE/modules.builtin.modinfo  (made from vmlinux.o)
  DIR/lib/modules/RELEASE/modules.dep, ...     the host's depmod -a -b DIR RELEASE

No `build` or `source` links back into a build tree.  Standard library
only: the toolchain's interpreter runs it as an action.
"""

import argparse
import os
import shutil
import subprocess
import sys

# Where Debian's kmod installs depmod (scripts/depmod.sh runs $(DEPMOD)).
DEPMOD_PATHS = ("/sbin/depmod", "/usr/sbin/depmod")


def order_lines(order: str) -> list[str]:
    """modules.order as installed: kernel/dir/x.ko per module (6.1 lists
    dir/x.ko, 6.2 and later dir/x.o)."""
    out = []
    for line in order.splitlines():
        line = line.strip()
        if line:
            out.append("kernel/" + (line[:-len(".o")] + ".ko" if line.endswith(".o") else line))
    return out


def install(out: str, release: str, order: str, builtin: list[str],
            modules: dict[str, str], depmod: str) -> None:
    """Lays out the modules under out (new) and runs depmod over them.
    builtin: files copied beside modules.order under their own names."""
    modlib = os.path.join(out, "lib", "modules", release)
    os.makedirs(os.path.join(modlib, "kernel"))
    for path in builtin:
        shutil.copyfile(path, os.path.join(modlib, os.path.basename(path)))
    with open(order) as f:
        lines = order_lines(f.read())
    if sorted(lines) != sorted("kernel/" + ko for ko in modules):
        sys.exit(f"kthinlto: {order} does not list exactly the modules built "
                 f"({len(lines)} against {len(modules)}); run ./kthin configure again")
    with open(os.path.join(modlib, "modules.order"), "w") as f:
        f.write("".join(line + "\n" for line in lines))
    for ko, path in modules.items():
        dst = os.path.join(modlib, "kernel", ko)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(path, dst)
    proc = subprocess.run([depmod, "-a", "-b", out, release], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"kthinlto: {depmod} -a -b {out} {release} failed: {proc.stderr.strip()}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--release_file", required=True)
    parser.add_argument("--order", required=True)
    parser.add_argument("--builtin", action="append", default=[])
    parser.add_argument("modules", nargs="*", help="dir/x.ko=FILE")
    args = parser.parse_args(argv)
    depmod = next((p for p in DEPMOD_PATHS if os.path.exists(p)), None)
    if depmod is None:
        sys.exit(f"kthinlto: no depmod at {' or '.join(DEPMOD_PATHS)}; install Debian's kmod "
                 "(./kthin setup does)")
    with open(args.release_file) as f:
        release = f.read().strip()
    modules = dict(m.split("=", 1) for m in args.modules)
    # A declared output directory: Bazel made it; it is filled here anew.
    shutil.rmtree(args.out, ignore_errors=True)
    install(args.out, release, args.order, args.builtin, modules, depmod)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
