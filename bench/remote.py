"""A remote build explained: a cold build and a one-line edit on real REAPI
workers, what each uploads against the minimum, and the simulation of the
workers they ran on against their measured wall time.

The cluster is the tests' (tests/e2e/reapi.py: buildbox-casd and
buildbox-run, --workers hosts in their own network namespaces, each running
--worker_jobs actions at once; on this machine they share its cores).  The
kernel is the default one's tree and config, from a private copy of the
source (the edit must not touch the shared tree), built with
`--config=remote` in a new output base: cold, then after the one-line edit
of kernel/sys.c.  Each build's profile, action graph and execution log give
`./kthin report`'s figures; the edit's upload counts only what the CAS
lacked after the cold build.  Needs root (network namespaces).

  python3 -m bench.remote
  python3 -m bench.remote --workers=4 --worker_jobs=1 --keep
"""

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

from absl import app
from absl import flags

from bench import modules
from bench.common import REPO, copy_checkout, edit, timed
from tests.e2e import reapi
from tools.kthinlto import buildgraph, execlog, report, source, traffic

FLAGS = flags.FLAGS
flags.DEFINE_integer("workers", 2, "Remote workers (hosts).")
flags.DEFINE_integer("worker_jobs", 2, "Actions each worker runs at once.")
flags.DEFINE_integer("jobs", os.cpu_count() or 2, "Local slots (the thin link, the final "
                     "link and the Kbuild hand-offs run here).")
flags.DEFINE_bool("keep", False, "Keep the work directory.")

TARGETS = ("//:vmlinux_o", "//:modules")
MB = 1e6


def build(bazel: list[str], ws: str, name: str, endpoint: str, out: str) -> dict:
    """One timed remote build with its profile, action graph and execution
    log; the report's figures of it, with its seconds."""
    prof, log = os.path.join(out, name + ".prof.gz"), os.path.join(out, name + ".exec.json")
    # --jobs: no more actions in flight than the workers run, so an
    # action's time in the profile is its remote run (and transfers), not
    # its wait in the server's queue.
    seconds = timed(bazel + ["build", "--config=remote", f"--remote_executor={endpoint}",
                             f"--jobs={FLAGS.workers * FLAGS.worker_jobs}", *TARGETS, f"--profile={prof}", *buildgraph.PROFILE_FLAGS,
                             f"--execution_log_json_file={log}"], cwd=ws)
    graph = json.loads(subprocess.run(
        bazel + ["aquery", "--output=jsonproto", " + ".join(f"deps({t})" for t in TARGETS)],
        cwd=ws, check=True, capture_output=True, text=True).stdout)
    with gzip.open(os.path.join(out, name + ".aquery.json.gz"), "wt") as f:
        json.dump(graph, f)
    profile = buildgraph.load_profile(prof)
    entries = execlog.read(log)
    b = buildgraph.build_of(profile, buildgraph.actions_of(graph))
    f = report.figures(profile, b, entries, None, FLAGS.jobs,
                       FLAGS.workers * FLAGS.worker_jobs, [1, 2, 8, 32, 100, 1000], 0.3)
    return {"seconds": seconds, "figures": f, "entries": entries}


def uploads(entries: list[dict], execroot: str, known: set[str]) -> tuple[int, int]:
    """The kernel's bytes a remote build of these actions uploads, and the
    minimum (each bundle taken apart), beyond what the CAS has (known)."""
    members = report.bundle_members(execroot)
    return (traffic.upload(entries, known=known).kernel_bytes,
            traffic.upload(entries, members=members, known=known).kernel_bytes)


def main(argv):
    del argv
    work = tempfile.mkdtemp(prefix="kthinlto-bench-remote-")
    print(f"bench: work directory {work}", file=sys.stderr)
    cluster = None
    bazel = ["bazel", f"--output_base={os.path.join(work, 'ob')}"]
    ws = os.path.join(work, "ws")
    try:
        src = os.path.join(work, "linux")
        subprocess.run(["cp", "-al", source.pinned_tree(source.read_pins()[0],
                                                        source.default_cache_dir()), src],
                       check=True)
        copy_checkout(ws)
        # The default kernel's declaration, its source this private copy.
        subprocess.run([sys.executable, "-m", "tools.kthinlto.configure",
                        f"--workspace={ws}", f"--source={src}", f"--jobs={FLAGS.jobs}"],
                       cwd=REPO, check=True)
        cluster = reapi.Cluster(os.path.join(work, "cluster"), FLAGS.workers, FLAGS.worker_jobs)
        out = os.path.join(work, "logs")
        os.makedirs(out)
        cold = build(bazel, ws, "cold", cluster.endpoint, out)
        execroot = subprocess.run(bazel + ["info", "execution_root"], cwd=ws, check=True,
                                  capture_output=True, text=True).stdout.strip()
        cold_up = uploads(cold["entries"], execroot, set())
        edit(src, modules.KERNEL_EDIT)
        hot = build(bazel, ws, "edit", cluster.endpoint, out)
        hot_up = uploads(hot["entries"], execroot, traffic.digests(cold["entries"]))
    finally:
        subprocess.run(bazel + ["shutdown"], cwd=ws, check=False)
        if cluster:
            cluster.stop()
        if not FLAGS.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"remote: {FLAGS.workers} workers x {FLAGS.worker_jobs} jobs, {FLAGS.jobs} local "
          f"slots, on {os.cpu_count()} cores; {' '.join(TARGETS)} of kernels/kernel.json")
    print(f"{'':40} {'wall':>8} {'simulated':>10} {'sim/meas':>9} {'upload':>9} "
          f"{'minimum':>9} {'ratio':>6}")
    summary = {}
    for name, b, (up, least) in (("cold build", cold, cold_up),
                                 ("after a one-line edit of kernel/sys.c", hot, hot_up)):
        f = b["figures"]
        runners = execlog.by_phase(b["entries"]).get("ThinLtoBackend", {})
        print(f"{name:40} {b['seconds']:7.1f}s {f['simulated_own_slots']:9.1f}s "
              f"{f['simulated_own_slots'] / f['measured']:9.3f} {up / MB:7.1f}MB "
              f"{least / MB:7.1f}MB {up / max(1, least):6.2f}")
        print(f"  {'':38} actions first to last {f['measured']:.1f} s; BE: "
              + ", ".join(f"{n} {how}" for how, n in sorted(runners.items())))
        summary[name.split()[0]] = {
            "seconds": b["seconds"], "measured": f["measured"],
            "simulated": f["simulated_own_slots"], "upload": up, "minimum": least,
            "critical_path": f["critical_path_seconds"]}
    print(json.dumps(summary))


if __name__ == "__main__":
    app.run(main)
