"""What one process per backend costs: the BE phase through Bazel against
the same clang commands run bare, on a tree `bench.compare --keep` left.

  python3 -m bench.compare --keep            # prints its work directory
  python3 -m bench.backend_cost --reuse=/tmp/kthinlto-bench-XXXX

1. Bazel: the kept checkout's BE launcher gets one more comment line, so
   every ThinLtoBackend action's key changes and all of them run again (their
   objects come out the same, so the final link stays a cache hit); the BE
   phase is read from Bazel's profile.
2. Bare: the same clang command lines, from `bazel aquery`, run directly,
   --jobs at a time, each in a directory on tmpfs where its bundle was
   unpacked beforehand (untimed), writing to tmpfs.  Wall time and the CPU
   time of the clang processes.
3. One clang start: clang compiling an empty IR module, the fixed price
   every backend pays (loading LLVM's shared libraries).

The difference between 1 and 2 is Bazel, linux-sandbox and the launcher.
The kept checkout is left with the extra comment line; `bench.compare
--reuse` copies the rules afresh.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from bench import phases
from bench.bare import backends, bare_argv, bare_env, clang_start, run_bare, unpack
from bench.common import timed

FLAGS = flags.FLAGS
flags.DEFINE_string("reuse", None, "A work directory kept by `bench.compare --keep`.")
flags.DEFINE_integer("jobs", os.cpu_count() or 2, "Parallel jobs for both sides.")
flags.DEFINE_integer("starts", 40, "How many empty clang compiles to time.")

LAUNCHER = "rules/private/backend.sh"


def main(argv):
    del argv
    if not FLAGS.reuse:
        raise app.UsageError("give --reuse=<a work directory kept by bench.compare --keep>")
    work = os.path.abspath(FLAGS.reuse)
    ws, ob = os.path.join(work, "ws"), os.path.join(work, "ob")
    if not os.path.isfile(os.path.join(ws, LAUNCHER)) or not os.path.isdir(ob):
        raise SystemExit(f"--reuse={work}: no ws/{LAUNCHER} or ob/ there; give a work "
                         "directory that `bench.compare --keep` left")
    bazel = ["bazel", f"--output_base={ob}"]
    build = bazel + ["build", f"--jobs={FLAGS.jobs}", "//:vmlinux_o"]
    timed(build, cwd=ws)  # up to date first (untimed)
    execroot = subprocess.run(bazel + ["info", "execution_root"], cwd=ws, check=True,
                              capture_output=True, text=True).stdout.strip()
    todo = backends(bazel, ws)

    # 1. Through Bazel: every BE again.
    with open(os.path.join(ws, LAUNCHER), "a") as f:
        f.write(f"# bench.backend_cost {time.time_ns()}: every backend runs again\n")
    profile = os.path.join(work, "backend_cost.prof.gz")
    total = timed(build + [f"--profile={profile}", *phases.PROFILE_FLAGS], cwd=ws)
    # The BE events are told apart by their outputs: the BE commands' -o.
    mnemonics = {os.path.normpath(b.output): "ThinLtoBackend" for b in todo}
    rows = {r[0]: r for r in phases.phases(phases.load(profile), mnemonics)}
    if "BE" not in rows:
        raise SystemExit(f"{profile}: no backend ran; is {ws} the checkout the kept "
                         "output base built?")
    _, n_bazel, _, be_wall, be_busy, _ = rows["BE"]
    subprocess.run(bazel + ["shutdown"], cwd=ws, check=False)

    # 2. Bare, from bundles unpacked beforehand on tmpfs.
    scratch_root = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="kthinlto-be-cost-", dir=scratch_root) as scratch:
        print(f"bench: unpacking {len(todo)} bundles in {scratch} (untimed)",
              file=sys.stderr, flush=True)
        jobs = []
        for i, b in enumerate(todo):
            cwd = os.path.join(scratch, str(i))
            unpack(b, execroot, cwd)
            jobs.append((bare_argv(b, execroot, os.path.join(cwd, "out.o")),
                         bare_env(b, execroot), cwd))
        print(f"bench: {len(jobs)} clang commands, {FLAGS.jobs} at a time",
              file=sys.stderr, flush=True)
        bare_wall, bare_cpu = run_bare(jobs, FLAGS.jobs)
        start = clang_start(jobs[0][0][0], jobs[0][1], FLAGS.starts, scratch)

    n = len(todo)
    print(f"backends: {n}, -j{FLAGS.jobs}, {os.cpu_count()} cores")
    print(f"through Bazel (sandboxed, launcher): BE phase {be_wall:.1f} s wall, "
          f"{be_busy:.1f} s of action time (profile: {n_bazel} BE events; "
          f"whole build {total:.1f} s)")
    print(f"bare clang, same commands:           {bare_wall:.1f} s wall, "
          f"{bare_cpu:.1f} CPU-seconds")
    print(f"difference: {be_wall - bare_wall:.1f} s wall, "
          f"{(be_wall - bare_wall) * FLAGS.jobs / max(1, n) * 1000:.1f} ms per action on "
          f"{FLAGS.jobs} jobs (Bazel, linux-sandbox, the launcher)")
    print(f"one clang start (empty module): {start * 1000:.1f} ms; x {n} backends = "
          f"{start * n:.1f} s of one core, {start * n / FLAGS.jobs:.1f} s on {FLAGS.jobs}")
    print(json.dumps({"backends": n, "jobs": FLAGS.jobs, "bazel_be_wall": be_wall,
                      "bazel_be_action_time": be_busy, "bare_wall": bare_wall,
                      "bare_cpu": bare_cpu, "clang_start": start}))


if __name__ == "__main__":
    app.run(main)
