"""A shared remote cache, against real servers (tests/e2e/reapi.py): nginx
as an HTTP cache that Bazel filled itself.  The session's build of the
default kernel (conftest.py) has it as `--remote_cache` beside its disk
cache, so Bazel uploaded every action's result to it, those the rules keep
local (`no-remote-exec`: thin link, initcall order, final link) included.
Every build must give the default kernel's vmlinux.o, byte for byte; counts
come from Bazel's execution log.  Tests that change a cache (a corrupt
entry, dropped results, a server stopped) get their own hard-linked copy
of it, served by their own nginx.
"""

import hashlib
import json
import os
import re
import sys
import time

from bench import cold
from bench.common import copy_workspace
from tests.e2e import kernels, reapi
from tools.kthinlto import execlog, shared_cache, source

# Every phase of //:vmlinux_o, those the rules keep local included.
PHASES = ["ThinLtoCompile", "NativeCompile", "InitcallScan", "InitcallOrder",
          "ThinLtoIndex", "ThinLtoBackend", "RelocatableLink"]
# The steps after vmlinux.o: Kbuild's hand-off (vmlinux, the boot image)
# and the modules' steps after their links (whose final links also take
# their symbol order first: SymbolOrder).
AFTER = ["KbuildTail", "Modpost", "ModuleInfoCompile", "ModuleLink", "ModulesBuiltin",
         "ModulesInstall"]
# The phases before the BE.
BEFORE_BE = ["ThinLtoCompile", "NativeCompile", "InitcallScan", "InitcallOrder", "ThinLtoIndex"]


def _fresh_clone(default_kernel, base: str) -> kernels.Workspace:
    """A fresh clone of checkout A (its files: the repository's may have
    changed since the session began) at another path, with a new output
    base and its own empty KTHINLTO_CACHE: Bazel's kernel repository rule
    extracts the source there and translates it again, with this Python
    (KTHINLTO_PYTHON, as bench.compare's fresh clone).  The one thing put in
    that cache first is the pinned tarball, hard-linked: the same verified
    bytes `apt-get download` would fetch, without the network."""
    root = os.path.join(base, "clone")
    copy_workspace(default_kernel.ws.root, root)
    cache = os.path.join(base, "kthinlto-cache")
    with open(os.path.join(root, "kernels", f"{default_kernel.repo}.json")) as f:
        package = json.load(f)["source"]
    tarball = source.fetch(source.read_pins()[1][package], kernels.cache_dir())
    os.makedirs(os.path.join(cache, "sources"))
    os.link(tarball, os.path.join(cache, "sources", os.path.basename(tarball)))
    return kernels.Workspace(root, os.path.join(base, "output_base"),
                             cold.fresh_env(os.environ, cache, sys.executable))


def _build_clone(clone: kernels.Workspace, tmp: str, *flags: str, targets=("//:vmlinux_o",)):
    """targets built in the clone (then its server shut down): the
    process, the execution log's entries, its translation and vmlinux.o."""
    start = time.monotonic()
    try:
        proc, entries = kernels.build_logged(clone, os.path.join(tmp, "exec.json"), *targets[1:],
                                             *flags, target=targets[0])
        gen, vmlinux_o = clone.gen(), clone.vmlinux_o()
    finally:
        clone.shutdown()
    print(f"fresh clone: translation and build from the cache in {time.monotonic() - start:.0f} s")
    return proc, entries, gen, vmlinux_o


def _everything(default_kernel, disk_cache: str) -> tuple[str, ...]:
    """Every target a user builds (vmlinux.o, the modules, vmlinux, the boot
    image), built by checkout A into the session's disk cache first (test_boot
    does; done again here, nothing runs, if it already has)."""
    targets = ("//:vmlinux_o", "//:modules", "//:vmlinux", "//:bzImage")
    default_kernel.ws.bazel("build", *targets, f"--disk_cache={disk_cache}")
    return targets


def _all_hits(default_kernel, proc, entries, vmlinux_o, after: bool = False) -> None:
    """Every action a cache hit (those of //:vmlinux_o; with after, those
    after it too), and vmlinux.o the default kernel's."""
    # Every action, phase by phase, was a cache hit.
    phases = PHASES + (AFTER + ["SymbolOrder"] if after else [])
    assert {e.get("mnemonic") for e in entries} == set(phases)
    for mnemonic in phases:
        ran = execlog.executed(entries, mnemonic)
        assert not ran, (f"{mnemonic}: {len(ran)} executed, first "
                         f"{execlog.outputs(ran[0])}\n{execlog.figures(entries)}")
    # Bazel's own count agrees: nothing run, every process a hit (the rest
    # are its internal ones, which are never cached).
    processes = cold.processes(proc.stderr)
    assert processes.executed == 0 and processes.hits == len(entries), processes
    assert kernels.same_bytes(vmlinux_o, default_kernel.vmlinux_o)


def test_fresh_clone_with_its_own_translation_hits_the_cache_for_every_action(
        default_kernel, http_cache, disk_cache, tmp_path):
    url, _ = http_cache
    targets = _everything(default_kernel, disk_cache)
    clone = _fresh_clone(default_kernel, str(tmp_path))
    # Its own translation, not the one the session stored in the cache.
    clone.env[shared_cache.ENV] = "off"
    proc, entries, gen, vmlinux_o = _build_clone(clone, str(tmp_path), "--config=cache",
                                                 f"--remote_cache={url}",
                                                 f"--disk_cache={disk_cache}", targets=targets)
    # Its own translation, of a source extracted in its own cache.
    cache = clone.env["KTHINLTO_CACHE"]
    assert gen.startswith(cache + os.sep) and gen != default_kernel.gen(), gen
    assert os.path.realpath(os.path.join(gen, "src")).startswith(
        os.path.join(cache, "src") + os.sep)
    # The hand-off's inputs too: the object tree names no path of the
    # machine (kbuild.normalize_paths).
    _all_hits(default_kernel, proc, entries, vmlinux_o, after=True)


def test_fresh_clone_gets_the_translation_and_every_action_from_the_cache(
        default_kernel, http_cache, disk_cache, tmp_path):
    url, _ = http_cache
    targets = _everything(default_kernel, disk_cache)
    clone = _fresh_clone(default_kernel, str(tmp_path))
    # The one setting a user writes: both Bazel and the translation use it.
    with open(os.path.join(clone.root, "user.bazelrc"), "w") as f:
        f.write(f"build:cache --remote_cache={url}\n")
    # (The session's disk cache beside it has what A built after vmlinux.o.)
    proc, entries, gen, vmlinux_o = _build_clone(clone, str(tmp_path), "--config=cache",
                                                 f"--disk_cache={disk_cache}", targets=targets)
    # The translation came from the cache (checkout A stored it when the
    # session built the default kernel), and no Kbuild step ran: the
    # translator logs each one ("make olddefconfig ...").
    assert re.search(r"kthinlto: translation \w+ from shared cache " + re.escape(url), proc.stderr), \
        proc.stderr[-3000:]
    assert "make olddefconfig" not in proc.stderr and "kbuild.py" not in proc.stderr, proc.stderr[-3000:]
    # Unpacked into its own cache, with its own paths: the source it
    # extracted there.
    cache = clone.env["KTHINLTO_CACHE"]
    assert gen.startswith(cache + os.sep) and gen != default_kernel.gen(), gen
    assert os.path.realpath(os.path.join(gen, "src")).startswith(
        os.path.join(cache, "src") + os.sep)
    assert os.path.realpath(os.path.join(gen, "obj")).startswith(cache + os.sep)
    _all_hits(default_kernel, proc, entries, vmlinux_o, after=True)


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _corrupt(blob: str) -> None:
    """Flips a byte of a hard-linked cache file, in a new file (os.replace):
    the session's cache keeps its own."""
    with open(blob, "rb") as f:
        data = bytearray(f.read())
    data[100] ^= 0xFF
    with open(blob + ".corrupt", "wb") as f:
        f.write(data)
    os.replace(blob + ".corrupt", blob)


def test_corrupt_cache_entry_is_not_used(default_kernel, http_cache, tmp_path):
    _, files = http_cache
    server, url = reapi.nginx_cache(str(tmp_path / "nginx"))
    cache = str(tmp_path / "nginx" / "cache")
    ws = kernels.Workspace(default_kernel.ws.root, str(tmp_path / "output_base"))
    try:
        reapi.copy_http_cache(files, cache)
        # Flip a byte in the cached vmlinux.o and in one BE object.
        be_dir = default_kernel.output_dir("ThinLtoBackend")
        be_object = os.path.join(default_kernel.ws.bazel("info", "execution_root").stdout.strip(),
                                 be_dir, "kernel/sys.o")
        for path in [default_kernel.vmlinux_o, be_object]:
            _corrupt(os.path.join(cache, "cas", _sha256(path)))
        proc, entries = kernels.build_logged(ws, str(tmp_path / "exec.json"),
                                             "--config=cache", f"--remote_cache={url}")
        vmlinux_o = ws.vmlinux_o()
    finally:
        ws.shutdown()
        server.stop()
    # The session's cache is intact.
    assert _sha256(os.path.join(files, "cas", _sha256(be_object))) == _sha256(be_object)
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


# The BE outputs of vmlinux.o that exist when the cache server is stopped.
STOP_AFTER_BE_OUTPUTS = 30


def test_cache_down_mid_build(default_kernel, http_cache, tmp_path):
    # nginx serving the session's cache without vmlinux.o's BE results:
    # the FE, initcall and thin link results are hits, then the BE actions
    # run here; the server is stopped once STOP_AFTER_BE_OUTPUTS of them
    # are done, and the rest of the build runs without it.
    _, files = http_cache
    be = default_kernel.output_dir("ThinLtoBackend")
    tmp = str(tmp_path / "nginx")
    server, url = reapi.nginx_cache(tmp)
    ws = kernels.Workspace(default_kernel.ws.root, str(tmp_path / "output_base"))
    log, out = str(tmp_path / "exec.json"), str(tmp_path / "bazel.log")
    try:
        dropped = reapi.copy_http_cache(files, os.path.join(tmp, "cache"), lambda outs: any(
            o.startswith(be + "/") for o in outs))
        be_dir = os.path.join(ws.output_base, "execroot/kthinlto", be)
        start = time.monotonic()
        build = ws.bazel_in_background(out, "build", "//:vmlinux_o", "--config=cache",
                                       f"--remote_cache={url}",
                                       f"--execution_log_json_file={log}")
        done = kernels.wait_for_files(build, be_dir, STOP_AFTER_BE_OUTPUTS)
        server.stop()
        kernels.log(f"nginx stopped after {done} BE outputs")
        rc = build.wait()
        seconds = time.monotonic() - start
        vmlinux_o = ws.vmlinux_o()
    finally:
        server.stop()
        ws.shutdown()
    with open(out) as f:
        stderr = f.read()
    assert rc == 0, stderr[-3000:]
    # What Bazel said about it (4.2.3 prints a warning's text once per
    # build): the lookups after the stop were refused; the results of the
    # actions that ran after it (each its output, Action and Command: 3
    # blobs) could not be written.  An upload under way at the very moment
    # the server stopped may fail part-way, with a warning of its own; so
    # may a lookup under way then (Netty's ClosedChannelException, seen
    # once in CI on 2026-12-07).
    addr = url[len("http://"):]
    warnings = kernels.warnings(stderr)
    print("warnings:", warnings)
    reading = [m for w, m in warnings if w == "WARNING: Reading from Remote Cache:"]
    writing = [m for w, m in warnings if w == "WARNING: Writing to Remote Cache:"]
    assert f"Connection refused: /{addr}" in reading, warnings
    assert all(m == "ClosedChannelException" for m in reading
               if m != f"Connection refused: /{addr}"), warnings
    assert "3 errors during bulk transfer" in writing, warnings
    assert all(re.fullmatch(r"[12] errors during bulk transfer", m)
               or m == f"Connection refused: /{addr}"
               for m in writing if m != "3 errors during bulk transfer"), warnings
    assert len(reading) + len(writing) == len(warnings), warnings
    entries = execlog.read(log)
    print(f"\nnginx stopped after {done} BE outputs; the build took {seconds:.0f} s\n"
          f"{execlog.figures(entries)}")
    # While it was up, the cache served every result before the BE ...
    for mnemonic in BEFORE_BE:
        assert [e for e in entries if e.get("mnemonic") == mnemonic], mnemonic
        assert not execlog.executed(entries, mnemonic), mnemonic
    # ... and no BE result; it went away with the BE phase under way.
    be_ran = execlog.executed(entries, "ThinLtoBackend")
    assert len(be_ran) == dropped > 0
    assert [e for e in entries if e.get("mnemonic") == "ThinLtoBackend"] == be_ran
    assert STOP_AFTER_BE_OUTPUTS <= done < len(be_ran) - 100, done
    assert len(execlog.executed(entries, "RelocatableLink")) == 1
    with open(os.path.join(tmp, "access.log")) as f:
        access = f.read()
    puts = len(re.findall(r'"PUT /ac/\S+ HTTP/1.1" 20[14]', access))
    print(f"action results written to nginx before it stopped: {puts}")
    assert 0 < puts < len(be_ran), puts
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
    warnings = kernels.warnings(proc.stderr)
    print("warnings:", warnings)
    reading = [m for w, m in warnings if w.startswith("WARNING: Reading from Remote Cache:")]
    assert len(reading) == 1, warnings
    assert "Connection refused" in reading[0]
    assert all("Remote Cache" in w for w, _ in warnings), warnings
    ran = execlog.executed(entries, "ThinLtoBackend")
    assert dropped and ran, (dropped, len(ran))
    assert all(be_kernel in execlog.outputs(e)[0] for e in ran)
    assert kernels.same_bytes(vmlinux_o, default_kernel.vmlinux_o)
