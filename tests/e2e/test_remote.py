"""Remote execution, against real servers (the shared cache alone:
test_remote_cache.py).

The servers (tests/e2e/reapi.py) are buildbox-casd clusters with workers in
their own network namespaces.  The kernel is the
session's default one, built locally (conftest.py): every remote build must
give the same vmlinux.o, byte for byte.  Counts come from Bazel's execution
log, and per worker from each casd's log (the actions it was asked to run
and those it finished); `pytest -s` prints them per phase (remote / local /
cache hit), per worker, and names the actions lost on the killed worker.
"""

import os
import signal
import time

import pytest

from tests.e2e import kernels, reapi
from tools.kthinlto import execlog
from tools.kthinlto.kbuild import LLVM_VERSION

# What the rules send to the executor (the rest runs locally, remotely cached).
REMOTE = ["ThinLtoCompile", "NativeCompile", "InitcallScan", "ThinLtoBackend",
          "ModuleInfoCompile", "ModuleLink"]
# What stays local (no-remote-exec), each for the reason its rule gives: one
# serial step over many local outputs (the thin link, the links, modpost),
# or host tools that are not inputs (objtool's libelf, llvm-objcopy and
# depmod).
LOCAL = ["ThinLtoIndex", "InitcallOrder", "RelocatableLink", "SymbolOrder", "Modpost",
         "ModulesBuiltin", "ModulesInstall"]

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


# The BE outputs that must exist before worker w1 is killed; then how long
# to wait for w1 to be running a ThinLtoBackend action.
KILL_AFTER_BE_OUTPUTS = 40
KILL_WAIT_SECONDS = 120


def _backends_running(worker: reapi.Server) -> set[str]:
    """The ThinLtoBackend actions a worker is running now (digest hashes)."""
    running = reapi.executing(worker)  # first: each was requested before it ran
    mnemonics = reapi.worker_log(worker).mnemonics()
    return {h for h in running if mnemonics.get(h) == "ThinLtoBackend"}


@pytest.fixture(scope="module")
def distributed(default_kernel, tmp_path_factory):
    """A remote build of the default kernel, in a new output base, on two
    workers that hide the host's LLVM; worker w1 is killed (SIGKILL, casd
    and its runners) once the BE phase is well under way, while it runs a
    ThinLtoBackend action."""
    tmp = str(tmp_path_factory.mktemp("distributed"))
    cluster = reapi.Cluster(os.path.join(tmp, "cluster"))
    ws = kernels.Workspace(default_kernel.ws.root, os.path.join(tmp, "output_base"))
    log = os.path.join(tmp, "exec.json")
    w1 = cluster.workers[0]
    try:
        probes = _probe(tmp, cluster.endpoint)
        be_dir = os.path.join(ws.output_base, "execroot/kthinlto",
                              default_kernel.output_dir("ThinLtoBackend"))
        build = ws.bazel_in_background(
            os.path.join(tmp, "bazel.log"), "build", "//:vmlinux_o", "//:modules",
            "--config=remote", f"--remote_executor={cluster.endpoint}",
            f"--execution_log_json_file={log}")
        done = kernels.wait_for_files(build, be_dir, KILL_AFTER_BE_OUTPUTS)
        running, deadline = set(), time.monotonic() + KILL_WAIT_SECONDS
        while build.poll() is None and time.monotonic() < deadline:
            if running := _backends_running(w1):
                break
            time.sleep(0.2)
        if not running:
            state = "still building" if build.poll() is None else "finished"
            build.send_signal(signal.SIGINT)
            build.wait()
            pytest.fail(f"w1 ran no ThinLtoBackend action within {KILL_WAIT_SECONDS} s "
                        f"after {done} BE outputs (the build {state}); see {w1.log}")
        killed_at_time = time.time()
        w1.kill()
        kernels.log(f"worker w1 killed (SIGKILL) after {done} BE outputs, "
                    f"running ThinLtoBackend {sorted(running)}")
        rc = build.wait()
        with open(os.path.join(tmp, "bazel.log")) as f:
            assert rc == 0, f.read()[-3000:]
        entries = execlog.read(log)
        logs = {w.name: reapi.worker_log(w) for w in cluster.workers}
        lost = reapi.lost_actions(w1)
        lost_outputs = {h: cluster.action_outputs(h) for h in lost}
        print(f"\nworker w1 killed after {done} BE outputs\n{execlog.figures(entries)}")
        print("lost on w1 (R: running when killed, else queued):\n" + "\n".join(
            f"  {'R' if h in running else ' '} {lost[h]} {h} {' '.join(lost_outputs[h])}"
            for h in sorted(lost, key=lambda h: (h not in running, lost_outputs[h]))))
        per_worker = {name: {m: (wl.requested(m), wl.finished(m)) for m in REMOTE}
                      for name, wl in logs.items()}
        print(f"(requested, finished) per worker: {per_worker}")
        yield {"probes": probes, "entries": entries, "logs": logs, "lost": lost,
               "lost_outputs": lost_outputs, "running_when_killed": running,
               "killed_at": done, "killed_at_time": killed_at_time,
               "w1_returncode": w1.proc.returncode, "vmlinux_o": ws.vmlinux_o(),
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
    for mnemonic in LOCAL:
        assert execlog.executed(entries, mnemonic), mnemonic
        assert "remote" not in {e["runner"] for e in execlog.executed(entries, mnemonic)}
    logs = distributed["logs"]
    assert all(log.finished("ThinLtoBackend") > 0 for log in logs.values())
    # Per remote mnemonic, from the workers' logs: every action Bazel ran
    # remotely ran to a result on exactly one worker, once; and every
    # Execute request either ended in that result or was lost on w1 (and
    # asked again of w2).
    lost = distributed["lost"]
    for mnemonic in REMOTE:
        ran = len(execlog.executed(entries, mnemonic))
        lost_here = sum(1 for m in lost.values() if m == mnemonic)
        assert sum(log.finished(mnemonic) for log in logs.values()) == ran, mnemonic
        assert sum(log.requested(mnemonic) for log in logs.values()) == ran + lost_here, mnemonic
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
    # w1 was SIGKILLed (casd, its runners and their sandboxes: no grace)
    # while it ran a ThinLtoBackend action, well before the BE phase ended.
    be = execlog.executed(distributed["entries"], "ThinLtoBackend")
    killed_at = distributed["killed_at"]
    assert KILL_AFTER_BE_OUTPUTS <= killed_at < len(be) - 100, killed_at
    assert distributed["w1_returncode"] == -signal.SIGKILL
    # Actions were lost: asked of w1 and never finished there (those it ran
    # when killed, and those queued behind them), among them the
    # ThinLtoBackend actions w1 was seen running just before the kill.
    lost, outputs = distributed["lost"], distributed["lost_outputs"]
    assert lost, "no action lost on w1: it was killed idle"
    running = distributed["running_when_killed"]
    assert running & lost.keys(), f"the backends w1 ran, {running}, finished before the kill"
    # Each lost action was asked again, of w2, after the kill (Bazel's
    # retry; the execution log says every remote action ran remotely, so
    # none fell back to a local run), and w2 ran it to a result.
    w2, killed = distributed["logs"]["w2"], distributed["killed_at_time"]
    first_asked = {}
    for when, h, _ in w2.requests:
        first_asked.setdefault(h, when)
    rerun = {h for h in lost if first_asked.get(h, 0) > killed and h in w2.results}
    assert rerun == lost.keys(), {h: outputs[h] for h in lost.keys() - rerun}
    # Their outputs are those of remote spawns in the execution log, and
    # the result is the local build's, byte for byte.
    remote = {o for e in distributed["entries"] if e.get("runner") == "remote"
              for o in execlog.outputs(e)}
    for h in lost:
        assert set(outputs[h]) <= remote, outputs[h]
    assert kernels.same_bytes(distributed["vmlinux_o"], default_kernel.vmlinux_o)


def test_toolchain_travels(distributed):
    # Every worker hides the host's LLVM: clang-19 does not run there, and
    # libLLVM reads as empty; yet both ran the FE and BE compiles above.
    probes = distributed["probes"]
    assert {p[0] for p in probes} == {"w1", "w2"}, probes
    assert all(p[1:] == ["clang-missing", "0"] for p in probes), probes
    for name, log in distributed["logs"].items():
        assert log.finished("ThinLtoCompile") > 0 and log.finished("ThinLtoBackend") > 0, name
