"""Precise BE inputs: an edit re-runs only the backends it affects.

Checked from Bazel's execution log, with the local action cache and across
two output bases (other checkout, other source copy) that share only a
--disk_cache, which keys like a remote cache.
"""

import dataclasses
import hashlib
import os

import pytest

from tests.e2e import kernels
from tools.kthinlto import bundle, execlog

EDIT_FILE = "kernel/sys.c"
EDIT_OLD = "\treturn task_tgid_vnr(current);\n}"
# Two different one-line code changes of getpid().
EDIT_A = "\treturn task_tgid_vnr(current) + 1;\n}"
EDIT_B = "\treturn task_tgid_vnr(current) + 2;\n}"
TOOL_PREFIXES = ("external/kthinlto_llvm/", "rules/private/")


def dirs(ws: kernels.Workspace) -> dict[str, str]:
    """mnemonic -> the directory (ending in /) of its outputs, found by
    mnemonic (ThinLtoCompile, ThinLtoIndex, ThinLtoBackend)."""
    return {m: d + "/" for m, d in ws.output_dirs().items()}


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def be_state(ws: kernels.Workspace, objects: list[str]) -> dict[str, tuple[str, str]]:
    """object -> (digest of its own bitcode, digest of its import bundle).

    The bundle holds the object's index, its import list and the bitcode it
    imports: what, besides its own bitcode, decides its backend.
    """
    root = ws.bazel("info", "execution_root").stdout.strip()
    fe, thin_link = dirs(ws)["ThinLtoCompile"], dirs(ws)["ThinLtoIndex"]
    return {o: (sha256(os.path.join(root, fe + o)),
                sha256(os.path.join(root, thin_link + o + ".thinlto.tar")))
            for o in objects}


def be_object(ws: kernels.Workspace, entry: dict) -> str:
    """The object a ThinLtoBackend entry of the execution log compiled."""
    out = execlog.outputs(entry)[0]
    be = dirs(ws)["ThinLtoBackend"]
    assert out.startswith(be), (out, be)
    return out[len(be):]


def fe_object(ws: kernels.Workspace, entry: dict) -> str:
    """The object a ThinLtoCompile entry of the execution log compiled."""
    out = execlog.outputs(entry)[0]
    fe = dirs(ws)["ThinLtoCompile"]
    assert out.startswith(fe), (out, fe)
    return out[len(fe):]


@dataclasses.dataclass
class Setup:
    base: str
    disk_cache: str
    ws: kernels.Workspace
    source: str
    bitcode: list[str]
    cold_log: list[dict]
    original: dict


@pytest.fixture(scope="session")
def setup(tmp_path_factory, disk_cache):
    base = str(tmp_path_factory.mktemp("incremental"))
    # The session's disk cache: the default kernel built earlier makes this
    # cold build mostly cache hits; the edits below were never built.
    disk = disk_cache
    source = kernels.private_source(os.path.join(base, "linux-a"))
    ws = kernels.new_workspace(os.path.join(base, "a"))
    ws.configure(f"--source={source}")
    log = os.path.join(base, "cold.json")
    ws.bazel("build", "//:vmlinux_o", f"--disk_cache={disk}",
             f"--execution_log_json_file={log}")
    bitcode = [o["path"] for o in ws.kernel_data()["objects"] if o["bitcode"]]
    s = Setup(base, disk, ws, source, bitcode, execlog.read(log),
              be_state(ws, bitcode))
    yield s
    ws.shutdown()


def test_backend_declares_own_bitcode_index_and_imports_only(setup):
    backends = [e for e in setup.cold_log if e["mnemonic"] == "ThinLtoBackend"]
    assert len(backends) == len(setup.bitcode)
    root = setup.ws.bazel("info", "execution_root").stdout.strip()
    bitcode_inputs = []
    for e in backends:
        obj = be_object(setup.ws, e)
        declared = {p for p in execlog.input_paths(e)
                    if not p.startswith(TOOL_PREFIXES)}
        # Its own bitcode and its bundle: nothing else of the other objects.
        fe, thin_link = dirs(setup.ws)["ThinLtoCompile"], dirs(setup.ws)["ThinLtoIndex"]
        assert declared == {fe + obj, thin_link + obj + ".thinlto.tar"}, obj
        # The bundle: its index, its import list and exactly those modules.
        b = bundle.read(os.path.join(root, thin_link + obj + ".thinlto.tar"), obj)
        assert b.modules == b.imports, obj
        bitcode_inputs.append(1 + len(b.modules))
    mean = sum(bitcode_inputs) / len(bitcode_inputs)
    print(f"mean declared bitcode inputs per BE action: {mean:.2f} "
          f"(all bitcode objects: {len(setup.bitcode)})")
    assert mean < 10


def test_edit_reruns_only_affected_backends_with_local_cache(setup, tmp_path):
    kernels.edit(setup.source, EDIT_FILE, EDIT_OLD, EDIT_A)
    try:
        log = str(tmp_path / "edit.json")
        setup.ws.bazel("build", "//:vmlinux_o", f"--disk_cache={setup.disk_cache}",
                       f"--execution_log_json_file={log}")
        entries = execlog.read(log)
        after = be_state(setup.ws, setup.bitcode)
    finally:
        kernels.edit(setup.source, EDIT_FILE, EDIT_A, EDIT_OLD)
    fe = execlog.executed(entries, "ThinLtoCompile")
    assert [fe_object(setup.ws, e) for e in fe] == ["kernel/sys.o"]
    assert len(execlog.executed(entries, "ThinLtoIndex")) == 1
    # Only the shard holding sys.o is re-scanned; its initcalls are the same,
    # so Kbuild's ordering script does not run again.
    scans = execlog.executed(entries, "InitcallScan")
    assert len(scans) == 1
    assert any(p.endswith("/kernel/sys.o.initcalls") for p in execlog.outputs(scans[0]))
    assert execlog.executed(entries, "InitcallOrder") == []
    changed = {o for o in setup.bitcode if after[o] != setup.original[o]}
    rerun = {be_object(setup.ws, e) for e in execlog.executed(entries, "ThinLtoBackend")}
    print(f"one-line edit of {EDIT_FILE}: {len(rerun)} of {len(setup.bitcode)} "
          f"backends re-ran: {sorted(rerun)}")
    assert "kernel/sys.o" in changed
    assert rerun == changed
    assert len(rerun) < len(setup.bitcode) // 10


def test_edit_in_second_output_base_hits_shared_disk_cache(setup, tmp_path):
    source = kernels.private_source(str(tmp_path / "linux-b"))
    kernels.edit(source, EDIT_FILE, EDIT_OLD, EDIT_B)
    ws = kernels.new_workspace(str(tmp_path / "b"))
    ws.configure(f"--source={source}")
    log = str(tmp_path / "b.json")
    try:
        ws.bazel("build", "//:vmlinux_o", f"--disk_cache={setup.disk_cache}",
                 f"--execution_log_json_file={log}")
        after = be_state(ws, setup.bitcode)
    finally:
        ws.shutdown()
    entries = execlog.read(log)
    fe = execlog.executed(entries, "ThinLtoCompile")
    assert [fe_object(ws, e) for e in fe] == ["kernel/sys.o"]
    hits = [e for e in entries if e["mnemonic"] == "ThinLtoCompile" and e["remoteCacheHit"]]
    assert len(hits) == len(setup.bitcode) - 1
    assert len(execlog.executed(entries, "ThinLtoIndex")) == 1
    changed = {o for o in setup.bitcode if after[o] != setup.original[o]}
    rerun = {be_object(ws, e) for e in execlog.executed(entries, "ThinLtoBackend")}
    be_hits = [e for e in entries if e["mnemonic"] == "ThinLtoBackend" and e["remoteCacheHit"]]
    print(f"second output base: {len(rerun)} backends ran, {len(be_hits)} disk-cache hits")
    assert rerun == changed
    assert len(be_hits) == len(setup.bitcode) - len(changed)


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_damaged_bitcode_stops_the_build_naming_the_object(setup, damage):
    """A bitcode object that is damaged after its FE ran (a bad disk, a bad
    cache entry): the rebuild stops with an error that names the object; no
    fallback, no backend runs on it."""
    victim = "kernel/exit.o"
    assert victim in setup.bitcode
    # A warm server that does not re-check outputs: Bazel keeps the damaged
    # file as the FE's output, as it would keep a bad cache entry.
    setup.ws.bazel("build", "//:vmlinux_o", f"--disk_cache={setup.disk_cache}")
    path = os.path.join(setup.ws.bazel("info", "execution_root").stdout.strip(),
                        dirs(setup.ws)["ThinLtoCompile"] + victim)
    with open(path, "rb") as f:
        original = f.read()
    # An edit never built before, so no cache holds the thin link's result.
    edit = EDIT_OLD.replace("current)", "current) + 3" if damage == "corrupt" else "current) + 4")
    os.chmod(path, 0o755)
    try:
        with open(path, "r+b") as f:
            if damage == "corrupt":
                f.seek(64)
                f.write(b"\xff" * 256)
            else:
                f.truncate(len(original) // 2)
        # Another object's edit makes the thin link run again.
        kernels.edit(setup.source, EDIT_FILE, EDIT_OLD, edit)
        proc = setup.ws.bazel("build", "//:vmlinux_o", "--keep_going",
                              "--noexperimental_check_output_files",
                              f"--disk_cache={setup.disk_cache}", check=False)
    finally:
        kernels.edit(setup.source, EDIT_FILE, edit, EDIT_OLD)
        with open(path, "wb") as f:
            f.write(original)
        os.chmod(path, 0o555)
    assert proc.returncode != 0
    # The thin link's own error (lld's, or ours when lld does not name it).
    thin_link = [line for line in proc.stderr.splitlines()
                 if "error" in line and victim in line
                 and ("kthinlto thin link" in line or "ld.lld" in line)]
    assert thin_link, proc.stderr[-4000:]
    print(f"{damage} {victim}: " + " | ".join(thin_link))
    assert "ThinLTO backend" not in proc.stderr
    # Back to the undamaged tree, which builds.
    setup.ws.bazel("build", "//:vmlinux_o", f"--disk_cache={setup.disk_cache}")
