"""Remote execution and a shared remote cache, against real servers.

The servers (tests/e2e/reapi.py) are buildbox-casd clusters with workers in
their own network namespaces and nginx as an HTTP cache.  The kernel is the
session's default one, built locally (conftest.py): every remote build must
give the same vmlinux.o, byte for byte.  Counts come from Bazel's execution
log; `pytest -s` prints them per phase (remote / local / cache hit).
"""

import hashlib
import os
import re
import shutil
import subprocess
import time

import pytest

from tests.e2e import kernels, reapi
from tools.kthinlto import execlog
from tools.kthinlto.kbuild import LLVM_VERSION

PHASES = ["ThinLtoCompile", "NativeCompile", "InitcallScan", "InitcallOrder",
          "ThinLtoIndex", "ThinLtoBackend", "RelocatableLink"]
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


def _bazel_bin(ws: kernels.Workspace) -> str:
    return ws.bazel("info", "bazel-bin").stdout.strip()


def _vmlinux_o(ws: kernels.Workspace) -> str:
    return os.path.join(_bazel_bin(ws), "external/kernel/vmlinux.o")


def _same(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def _build(ws: kernels.Workspace, log: str, *flags: str,
           check: bool = True) -> tuple[subprocess.CompletedProcess, list[dict]]:
    proc = ws.bazel("build", "//:vmlinux_o", f"--execution_log_json_file={log}",
                    *flags, check=check)
    entries = execlog.read(log) if os.path.exists(log) else []
    print(f"\n{ws.output_base}: {' '.join(flags)}\n{execlog.figures(entries)}")
    return proc, entries


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
        out = _bazel_bin(ws)
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
               "killed_at": done, "vmlinux_o": _vmlinux_o(ws),
               "modules": os.path.join(_bazel_bin(ws), "external/kernel/modules")}
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
    assert _same(distributed["vmlinux_o"], default_kernel.vmlinux_o)


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
        assert _same(os.path.join(distributed["modules"], ko),
                     os.path.join(default_kernel.bazel_bin(), "modules", ko)), ko


def test_build_finishes_when_a_worker_is_killed_during_backends(default_kernel, distributed):
    # w1 was killed with the BE phase under way; the rest ran on w2 (a
    # retry goes to the live worker), and the result is the local build's.
    be = execlog.executed(distributed["entries"], "ThinLtoBackend")
    killed_at = distributed["killed_at"]
    assert KILL_AFTER_BE_OUTPUTS <= killed_at < len(be) - 100, killed_at
    assert distributed["per_worker"]["w2"]["ThinLtoBackend"] > len(be) / 2
    assert _same(distributed["vmlinux_o"], default_kernel.vmlinux_o)


def test_toolchain_travels(distributed):
    # Every worker hides the host's LLVM: clang-19 does not run there, and
    # libLLVM reads as empty; yet both ran the FE and BE compiles above.
    probes = distributed["probes"]
    assert {p[0] for p in probes} == {"w1", "w2"}, probes
    assert all(p[1:] == ["clang-missing", "0"] for p in probes), probes
    for name, counts in distributed["per_worker"].items():
        assert counts["ThinLtoCompile"] > 0 and counts["ThinLtoBackend"] > 0, name


@pytest.fixture(scope="module")
def http_cache(default_kernel, disk_cache, tmp_path_factory):
    """nginx serving what checkout A's builds (the default kernel's) wrote to
    the session's disk cache: every action of the default kernel."""
    tmp = str(tmp_path_factory.mktemp("http_cache"))
    server, url = reapi.nginx_cache(os.path.join(tmp, "nginx"))
    try:
        entries = reapi.fill_http_cache(disk_cache, os.path.join(tmp, "nginx", "cache"))
        kernels.log(f"HTTP cache filled with {entries} entries")
        yield url, os.path.join(tmp, "nginx", "cache")
    finally:
        server.stop()


def _fresh_checkout(default_kernel, base: str) -> kernels.Workspace:
    """A copy of checkout A at another path, with a new output base: a copy
    of A, not of the repository, whose files may have changed since."""
    root = os.path.join(base, "checkout")
    shutil.copytree(default_kernel.ws.root, root, symlinks=True,
                    ignore=shutil.ignore_patterns("bazel-*"))
    ws = kernels.Workspace(root, os.path.join(base, "output_base"))
    # The same declaration: Bazel reuses A's translation.
    assert ws.gen() == default_kernel.gen()
    return ws


def test_cache_shared_by_a_fresh_checkout(default_kernel, http_cache, tmp_path):
    url, _ = http_cache
    b = _fresh_checkout(default_kernel, str(tmp_path / "b"))
    try:
        _, entries = _build(b, str(tmp_path / "b.json"), "--config=cache", f"--remote_cache={url}")
        vmlinux_o = _vmlinux_o(b)
    finally:
        b.shutdown()
    for mnemonic in PHASES:
        hits = [e for e in entries if e.get("mnemonic") == mnemonic]
        assert hits, mnemonic
        assert not execlog.executed(entries, mnemonic), mnemonic
    assert _same(vmlinux_o, default_kernel.vmlinux_o)


def _blob(cache: str, path: str) -> str:
    with open(path, "rb") as f:
        return os.path.join(cache, "cas", hashlib.sha256(f.read()).hexdigest())


def test_corrupt_cache_entry_is_not_used(default_kernel, http_cache, tmp_path):
    url, cache = http_cache
    # Flip bytes in the cached vmlinux.o and one BE object.
    be_dir = default_kernel.output_dir("ThinLtoBackend")
    be_object = os.path.join(default_kernel.ws.bazel("info", "execution_root").stdout.strip(),
                             be_dir, "kernel/sys.o")
    for path in [default_kernel.vmlinux_o, be_object]:
        blob = _blob(cache, path)
        with open(blob, "r+b") as f:
            f.seek(100)
            byte = f.read(1)
            f.seek(100)
            f.write(bytes([byte[0] ^ 0xFF]))
    c = _fresh_checkout(default_kernel, str(tmp_path / "c"))
    try:
        proc, entries = _build(c, str(tmp_path / "c.json"), "--config=cache", f"--remote_cache={url}")
        vmlinux_o = _vmlinux_o(c)
    finally:
        c.shutdown()
    # Bazel checks every download against its digest, warns, and runs the
    # action itself.
    mismatches = re.findall(r"Output (\S+) download failed: Expected digest '\S+' "
                            r"does not match received digest", proc.stderr)
    print(f"digest mismatches reported: {mismatches}")
    assert any(m.endswith("/vmlinux.o") for m in mismatches), proc.stderr[-3000:]
    assert any(m.endswith(be_dir + "/kernel/sys.o") for m in mismatches), proc.stderr[-3000:]
    assert len(execlog.executed(entries, "RelocatableLink")) == 1
    assert len(execlog.executed(entries, "ThinLtoBackend")) == 1
    assert _same(vmlinux_o, default_kernel.vmlinux_o)


def test_cache_down_at_start(default_kernel, disk_cache, tmp_path):
    ws = kernels.Workspace(default_kernel.ws.root, str(tmp_path / "output_base"))
    down = f"127.0.0.1:{reapi.free_port()}"
    try:
        # gRPC: Bazel 4.2.3 asks the server's capabilities first and stops
        # with one error line (exit 34) before building anything.
        proc = ws.bazel("build", "//:vmlinux_o", "--config=cache",
                        f"--remote_cache=grpc://{down}", check=False)
        assert proc.returncode == 34, proc.stderr[-2000:]
        assert f"Failed to query remote execution capabilities: Connection refused: /{down}" in proc.stderr
        # HTTP: a disk cache of the default kernel without the BE results
        # of kernel/: those BE actions miss it, ask the HTTP cache (down),
        # and run here, with one warning about reading the cache (and a few
        # summarized ones about writing to it).
        local = str(tmp_path / "disk_cache")
        be_kernel = default_kernel.output_dir("ThinLtoBackend") + "/kernel/"
        dropped = reapi.copy_disk_cache(disk_cache, local, lambda outs: any(
            be_kernel in o for o in outs))
        proc, entries = _build(ws, str(tmp_path / "exec.json"), "--config=cache",
                               f"--remote_cache=http://{down}", f"--disk_cache={local}")
        vmlinux_o = _vmlinux_o(ws)
    finally:
        ws.shutdown()
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING:")]
    print("warnings:", warnings)
    reading = [i for i, w in enumerate(proc.stderr.splitlines())
               if w.startswith("WARNING: Reading from Remote Cache:")]
    assert len(reading) == 1, warnings
    assert "Connection refused" in proc.stderr.splitlines()[reading[0] + 1]
    assert all("Remote Cache" in w for w in warnings), warnings
    ran = execlog.executed(entries, "ThinLtoBackend")
    assert dropped and ran, (dropped, len(ran))
    assert all(be_kernel in execlog.outputs(e)[0] for e in ran)
    assert _same(vmlinux_o, default_kernel.vmlinux_o)
