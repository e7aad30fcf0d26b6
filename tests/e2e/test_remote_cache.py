"""A shared remote cache, against real servers (tests/e2e/reapi.py): nginx
as an HTTP cache.  Every build must give the default kernel's vmlinux.o,
byte for byte; counts come from Bazel's execution log.
"""

import hashlib
import os
import re
import shutil

import pytest

from tests.e2e import kernels, reapi
from tools.kthinlto import execlog

# Every phase of //:vmlinux_o, those the rules keep local included.
PHASES = ["ThinLtoCompile", "NativeCompile", "InitcallScan", "InitcallOrder",
          "ThinLtoIndex", "ThinLtoBackend", "RelocatableLink"]


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
        _, entries = kernels.build_logged(b, str(tmp_path / "b.json"), "--config=cache", f"--remote_cache={url}")
        vmlinux_o = b.vmlinux_o()
    finally:
        b.shutdown()
    for mnemonic in PHASES:
        hits = [e for e in entries if e.get("mnemonic") == mnemonic]
        assert hits, mnemonic
        assert not execlog.executed(entries, mnemonic), mnemonic
    assert kernels.same_bytes(vmlinux_o, default_kernel.vmlinux_o)


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
        proc, entries = kernels.build_logged(c, str(tmp_path / "c.json"), "--config=cache", f"--remote_cache={url}")
        vmlinux_o = c.vmlinux_o()
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
    assert kernels.same_bytes(vmlinux_o, default_kernel.vmlinux_o)


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
        proc, entries = kernels.build_logged(ws, str(tmp_path / "exec.json"), "--config=cache",
                               f"--remote_cache=http://{down}", f"--disk_cache={local}")
        vmlinux_o = ws.vmlinux_o()
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
    assert kernels.same_bytes(vmlinux_o, default_kernel.vmlinux_o)
