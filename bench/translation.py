"""Times translation against Kbuild's own full build, side by side.

Translation (`tools.kthinlto.configure`: config, recorded Kbuild run,
clang-scan-deps) is timed against Kbuild's full in-process ThinLTO build of
the same tree and config (`make olddefconfig` + `make LLVM=-19 vmlinux`, from
an empty object tree), both on this machine in this run.

  python3 -m bench.translation                   # default kernel (tinyconfig)
  python3 -m bench.translation --config=defconfig
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from bench.common import REPO, timed
from tools.kthinlto import kbuild, source

FLAGS = flags.FLAGS
flags.DEFINE_string("config", "tinyconfig", "Config target.")
flags.DEFINE_multi_string("fragment", [], "Config fragments.")
flags.DEFINE_integer("jobs", os.cpu_count() or 2, "Parallel jobs for both.")


def main(argv):
    del argv
    work = tempfile.mkdtemp(prefix="kthinlto-bench-")
    try:
        ws = os.path.join(work, "ws")
        os.makedirs(ws)
        # A copy of the pinned tree at a new path: a translation of its own,
        # never one the cache kept from an earlier run (tools/kthinlto/trees.py).
        src = os.path.join(work, "linux")
        subprocess.run(["cp", "-al", source.pinned_tree(source.read_pins()[0],
                                                        source.default_cache_dir()), src],
                       check=True)
        translate = timed([sys.executable, "-m", "tools.kthinlto.configure",
                           f"--workspace={ws}", f"--source={src}", f"--config={FLAGS.config}",
                           f"--jobs={FLAGS.jobs}"]
                          + [f"--fragment={f}" for f in FLAGS.fragment], cwd=REPO)
        srctree = src
        obj = os.path.join(work, "kbuild")
        os.makedirs(obj)
        # The same config steps as translation, then the build itself.
        spec = kbuild.ConfigSpec(target=FLAGS.config, fragments=tuple(
            os.path.abspath(f) for f in FLAGS.fragment))
        start = time.monotonic()
        kbuild.configure(srctree, obj, "x86_64", kbuild.Toolchain(), spec,
                         os.path.join(work, "kbuild.log"), FLAGS.jobs)
        kconfig = time.monotonic() - start
        base = kbuild.make_args(srctree, obj, "x86_64", kbuild.Toolchain())
        kbuild_s = timed(base + [f"-j{FLAGS.jobs}", "vmlinux"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    label = FLAGS.config + "".join(f"+{os.path.basename(f)}" for f in FLAGS.fragment)
    print(f"config: {label}  jobs: {FLAGS.jobs}")
    print(f"translation (config + recorded Kbuild + clang-scan-deps): {translate:.1f} s")
    total = kconfig + kbuild_s
    print(f"Kbuild full build (config {kconfig:.1f} s + make vmlinux {kbuild_s:.1f} s): {total:.1f} s")
    print(f"ratio translation / Kbuild full build: {translate / total:.3f}")


if __name__ == "__main__":
    app.run(main)
