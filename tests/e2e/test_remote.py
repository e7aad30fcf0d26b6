"""Remote execution, against real servers (the shared cache alone:
test_remote_cache.py).

The servers (tests/e2e/reapi.py) are buildbox-casd clusters with workers in
their own network namespaces.  The kernel is the
session's default one, built locally (conftest.py): every remote build must
give the same vmlinux.o, byte for byte.  Counts come from Bazel's execution
log; `pytest -s` prints them per phase (remote / local / cache hit).
"""

import os
import subprocess
import time

import pytest

from tests.e2e import kernels, reapi
from tools.kthinlto import execlog
from tools.kthinlto.kbuild import LLVM_VERSION

# What the rules send to the executor (the rest runs locally, remotely cached).
REMOTE = ["ThinLtoCompile", "NativeCompile", "InitcallScan", "ThinLtoBackend"]

_PROBE = """\
[genrule(
    name = "p%d" % i,
    outs = ["p%d.txt" % i],
    cmd = "(cat /worker-id; " +
          "if /usr/bin/clang-{v} --version >/dev/null 2>&1; then echo clang-found; else echo clang-missing; fi; " +
          "wc -c < /usr/lib/x86_64-linux-gnu/libLLVM.so.{v}.1) > $@",
) for i in range(6)]
""".replace("{v}", LLVM_VERSION)


def _probe(tmp: str, endpoint: str) -> list[list[str]]:
    """Warms the cluster up (round robin sees every worker only after a
    first action) and asks each worker what an action sees of the host."""
    root = os.path.join(tmp, "probe")
    os.makedirs(root)
    with open(os.path.join(root, "WORKSPACE"), "w") as f:
        f.write('local_repository(name = "rules_java", path = "/usr/share/bazel/rules/java")\n'
                f'local_repository(name = "rules_cc", path = "{kernels.REPO}/third_party/bazel4_rules_cc")\n')
    with open(os.path.join(root, "BUILD.bazel"), "w") as f:
        f.write(_PROBE)
    ws = kernels.Workspace(root, os.path.join(tmp, "probe_output_base"))
    flags = ["--spawn_strategy=remote", f"--remote_executor={endpoint}"]
    try:
        ws.bazel("build", "//:p0", *flags)
        ws.bazel("build", "//:all", "--jobs=6", *flags)
        out = ws.bazel_bin()
    finally:
        ws.shutdown()
    result = []
    for i in range(6):
        with open(os.path.join(out, f"p{i}.txt")) as f:
            result.append(f.read().split())
    return result


# The BE outputs that must exist before worker w1 is killed.
KILL_AFTER_BE_OUTPUTS = 40


@pytest.fixture(scope="module")
def distributed(default_kernel, tmp_path_factory):
    """A remote build of the default kernel, in a new output base, on two
    workers that hide the host's LLVM; worker w1 is killed once the BE phase
    is well under way."""
    tmp = str(tmp_path_factory.mktemp("distributed"))
    cluster = reapi.Cluster(os.path.join(tmp, "cluster"))
    ws = kernels.Workspace(default_kernel.ws.root, os.path.join(tmp, "output_base"))
    log = os.path.join(tmp, "exec.json")
    try:
        probes = _probe(tmp, cluster.endpoint)
        be_dir = os.path.join(ws.output_base, "execroot/kthinlto",
                              default_kernel.output_dir("ThinLtoBackend"))
        with open(os.path.join(tmp, "bazel.log"), "w") as out:
            build = subprocess.Popen(
                ["bazel", f"--output_base={ws.output_base}", "--max_idle_secs=600",
                 "build", "//:vmlinux_o", "//:modules", "--config=remote",
                 f"--remote_executor={cluster.endpoint}", f"--execution_log_json_file={log}"],
                cwd=ws.root, stdout=out, stderr=subprocess.STDOUT)
            done = 0
            while build.poll() is None and done < KILL_AFTER_BE_OUTPUTS:
                time.sleep(0.5)
                done = sum(len(files) for _, _, files in os.walk(be_dir))
            cluster.workers[0].stop()
            kernels.log(f"worker w1 killed after {done} BE outputs")
            rc = build.wait()
        with open(os.path.join(tmp, "bazel.log")) as f:
            assert rc == 0, f.read()[-3000:]
        entries = execlog.read(log)
        print(f"\nworker w1 killed after {done} BE outputs\n{execlog.figures(entries)}")
        per_worker = {w.name: {m: reapi.executions(w, m) for m in REMOTE}
                      for w in cluster.workers}
        print(f"executions per worker: {per_worker}")
        yield {"probes": probes, "entries": entries, "per_worker": per_worker,
               "killed_at": done, "vmlinux_o": ws.vmlinux_o(),
               "modules": os.path.join(ws.bazel_bin(), "external/kernel/modules")}
    finally:
        ws.shutdown()
        cluster.stop()


def test_backends_run_remotely_on_both_workers(default_kernel, distributed):
    entries = distributed["entries"]
    be = [e for e in entries if e.get("mnemonic") == "ThinLtoBackend"]
    assert len(be) > 300
    assert {e["runner"] for e in be} == {"remote"}
    for mnemonic in REMOTE:
        assert {e["runner"] for e in execlog.executed(entries, mnemonic)} == {"remote"}, mnemonic
    # The thin link and the final link stay local (no-remote-exec).
    for mnemonic in ["ThinLtoIndex", "InitcallOrder", "RelocatableLink"]:
        assert execlog.executed(entries, mnemonic), mnemonic
        assert "remote" not in {e["runner"] for e in execlog.executed(entries, mnemonic)}
    workers = distributed["per_worker"]
    assert all(w["ThinLtoBackend"] > 0 for w in workers.values()), workers
    # Each BE was asked of a worker at least once (those running on w1 when
    # it was killed were asked again).
    assert sum(w["ThinLtoBackend"] for w in workers.values()) >= len(be)
    assert kernels.same_bytes(distributed["vmlinux_o"], default_kernel.vmlinux_o)


def test_module_backends_run_remotely_too(default_kernel, distributed):
    # Each module is a link unit of its own: its backends (in
    # <unit>_be/) are remote actions like vmlinux.o's, and its .ko is the
    # local build's.
    units = [u for u in default_kernel.kernel_data()["units"] if u["module"]]
    assert units
    be = [e for e in distributed["entries"] if e.get("mnemonic") == "ThinLtoBackend"]
    for u in units:
        target = u["name"].replace(".", "_").replace("/", "_")
        mine = [e for e in be if f"/{target}_be/" in execlog.outputs(e)[0]]
        assert mine, u["name"]
        assert {e["runner"] for e in mine} == {"remote"}, u["name"]
        ko = u["module"]
        assert kernels.same_bytes(os.path.join(distributed["modules"], ko),
                     os.path.join(default_kernel.bazel_bin(), "modules", ko)), ko


def test_build_finishes_when_a_worker_is_killed_during_backends(default_kernel, distributed):
    # w1 was killed with the BE phase under way; the rest ran on w2 (a
    # retry goes to the live worker), and the result is the local build's.
    be = execlog.executed(distributed["entries"], "ThinLtoBackend")
    killed_at = distributed["killed_at"]
    assert KILL_AFTER_BE_OUTPUTS <= killed_at < len(be) - 100, killed_at
    assert distributed["per_worker"]["w2"]["ThinLtoBackend"] > len(be) / 2
    assert kernels.same_bytes(distributed["vmlinux_o"], default_kernel.vmlinux_o)


def test_toolchain_travels(distributed):
    # Every worker hides the host's LLVM: clang-19 does not run there, and
    # libLLVM reads as empty; yet both ran the FE and BE compiles above.
    probes = distributed["probes"]
    assert {p[0] for p in probes} == {"w1", "w2"}, probes
    assert all(p[1:] == ["clang-missing", "0"] for p in probes), probes
    for name, counts in distributed["per_worker"].items():
        assert counts["ThinLtoCompile"] > 0 and counts["ThinLtoBackend"] > 0, name
