"""Precise BE inputs: an edit re-runs only the backends it affects, in
vmlinux.o or in a module, and nothing of the other link units.

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


@dataclasses.dataclass(frozen=True)
class Edit:
    """A one-line code change: file, its line, two different new lines (one
    per output base), the object it changes and the link unit of it."""
    file: str
    old: str
    a: str
    b: str
    obj: str
    unit: str


EDITS = {
    # getpid(), in vmlinux.o.
    "vmlinux": Edit(EDIT_FILE, EDIT_OLD, "\treturn task_tgid_vnr(current) + 1;\n}",
                    "\treturn task_tgid_vnr(current) + 2;\n}", "kernel/sys.o", "vmlinux.o"),
    # A read of FUSE's control file system, in the module fs/fuse/fuse.ko.
    "module": Edit("fs/fuse/control.c",
                   '\tsize = sprintf(tmp, "%ld\\n", (long)file->private_data);',
                   '\tsize = sprintf(tmp, "%ld\\n", (long)file->private_data + 1);',
                   '\tsize = sprintf(tmp, "%ld\\n", (long)file->private_data + 2);',
                   "fs/fuse/control.o", "fs/fuse/fuse.o"),
}
TOOL_PREFIXES = ("external/kthinlto_llvm/", "rules/private/")
# What an edit of one object may run: that object's FE, its unit's thin
# link, backends and link, then modpost; for a module also its symbol
# order, its .ko link and the install; for vmlinux.o the initcall steps, vmlinux and the list of
# built-in modules.  No .mod.o compile: neither edit changes an export.
LINKED_MNEMONICS = {"ThinLtoCompile", "ThinLtoIndex", "ThinLtoBackend", "RelocatableLink",
                    "Modpost"}
EDIT_MNEMONICS = LINKED_MNEMONICS | {"SymbolOrder", "ModuleLink", "ModulesInstall"}
VMLINUX_EDIT_MNEMONICS = LINKED_MNEMONICS | {"InitcallScan", "InitcallOrder", "KbuildTail",
                                             "ModulesBuiltin"}
TARGETS = ("//:vmlinux_o", "//:modules")


@dataclasses.dataclass(frozen=True)
class Unit:
    """A link unit as the rules name its targets (link_units.bzl): NAME_thin_link
    writes the bundles, NAME_be the native objects."""
    name: str                 # vmlinux.o, fs/fuse/fuse.o
    target: str               # vmlinux_o, fs_fuse_fuse_o
    bitcode: tuple[str, ...]  # its bitcode members


def units(ws: kernels.Workspace) -> list[Unit]:
    data = ws.kernel_data()
    bitcode = {o["path"] for o in data["objects"] if o["bitcode"]}
    return [Unit(u["name"], u["name"].replace(".", "_").replace("/", "_"),
                 tuple(m for m in u["whole"] + u["lazy"] if m in bitcode))
            for u in data["units"]]


def dirs(ws: kernels.Workspace) -> dict[str, str]:
    """mnemonic -> the directory (ending in /) of its outputs for vmlinux.o,
    found by mnemonic (ThinLtoCompile, ThinLtoIndex, ThinLtoBackend)."""
    return {m: d + "/" for m, d in ws.output_dirs().items()}


def package_dir(ws: kernels.Workspace) -> str:
    """Execroot-relative output directory of the kernel's package (ending
    in /): FE outputs are under objects/, a unit's under TARGET_thin_link/
    and TARGET_be/."""
    fe = dirs(ws)["ThinLtoCompile"]
    assert fe.endswith("/objects/"), fe
    return fe[:-len("objects/")]


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def be_state(ws: kernels.Workspace, us: list[Unit]) -> dict[tuple[str, str], tuple[str, str]]:
    """(unit target, object) -> (digest of its own bitcode, digest of its
    import bundle).

    The bundle holds the object's index, its import list and the bitcode it
    imports: what, besides its own bitcode, decides its backend.
    """
    root = ws.bazel("info", "execution_root").stdout.strip()
    pkg = package_dir(ws)
    return {(u.target, o): (sha256(os.path.join(root, pkg, "objects", o)),
                            sha256(os.path.join(root, pkg, u.target + "_thin_link",
                                                o + ".thinlto.tar")))
            for u in us for o in u.bitcode}


def be_object(ws: kernels.Workspace, entry: dict) -> tuple[str, str]:
    """(unit target, object) a ThinLtoBackend entry of the execution log
    compiled."""
    out = execlog.outputs(entry)[0]
    pkg = package_dir(ws)
    assert out.startswith(pkg), (out, pkg)
    target, sep, obj = out[len(pkg):].partition("_be/")
    assert sep, out
    return target, obj


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
    units: list[Unit]
    cold_log: list[dict]
    original: dict

    @property
    def bitcode(self) -> list[str]:
        return sorted({o for u in self.units for o in u.bitcode})


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
    ws.bazel("build", *TARGETS, f"--disk_cache={disk}", f"--execution_log_json_file={log}")
    us = units(ws)
    assert [u.name for u in us][:1] == ["vmlinux.o"] and len(us) > 2, us
    s = Setup(base, disk, ws, source, us, execlog.read(log), be_state(ws, us))
    yield s
    ws.shutdown()


def test_backend_declares_own_bitcode_index_and_imports_only(setup):
    backends = [e for e in setup.cold_log if e["mnemonic"] == "ThinLtoBackend"]
    assert len(backends) == sum(len(u.bitcode) for u in setup.units)
    root = setup.ws.bazel("info", "execution_root").stdout.strip()
    pkg = package_dir(setup.ws)
    bitcode_inputs = []
    for e in backends:
        target, obj = be_object(setup.ws, e)
        declared = {p for p in execlog.input_paths(e)
                    if not p.startswith(TOOL_PREFIXES)}
        # Its own bitcode and its unit's bundle: nothing else of the other
        # objects.
        bundle_path = pkg + target + "_thin_link/" + obj + ".thinlto.tar"
        assert declared == {pkg + "objects/" + obj, bundle_path}, obj
        # The bundle: its index, its import list and exactly those modules.
        b = bundle.read(os.path.join(root, bundle_path), obj)
        assert b.modules == b.imports, obj
        bitcode_inputs.append(1 + len(b.modules))
    mean = sum(bitcode_inputs) / len(bitcode_inputs)
    print(f"mean declared bitcode inputs per BE action: {mean:.2f} "
          f"(all bitcode objects: {len(setup.bitcode)})")
    assert mean < 10


def _check_edit(ws: kernels.Workspace, setup: Setup, edit: Edit, entries: list[dict],
                after: dict, other_source: bool = False) -> set:
    """What an edit build ran is that edit's and nothing else; returns the
    backends that ran.  other_source: built from another copy of the
    source, translated on its own: vmlinux's KbuildTail may run again too
    (its object tree names no path since kbuild.normalize_paths; the
    allowance predates that)."""
    ran = {e["mnemonic"] for e in entries if not e.get("remoteCacheHit")}
    allowed = VMLINUX_EDIT_MNEMONICS if edit.unit == "vmlinux.o" else EDIT_MNEMONICS
    if other_source:
        allowed = allowed | {"KbuildTail"}
    assert ran <= allowed, ran - allowed
    fe = execlog.executed(entries, "ThinLtoCompile")
    assert [fe_object(ws, e) for e in fe] == [edit.obj]
    (unit,) = [u for u in setup.units if u.name == edit.unit]
    (index,) = execlog.executed(entries, "ThinLtoIndex")
    assert all(f"/{unit.target}_thin_link/" in p for p in execlog.outputs(index))
    # Only the edited unit is linked again: vmlinux.o and every other
    # module are cache hits.
    links = [p for e in execlog.executed(entries, "RelocatableLink") for p in execlog.outputs(e)]
    assert [p.split("/bin/external/kernel/")[1] for p in links] == [edit.unit]
    changed = {k for k in setup.original if after[k] != setup.original[k]}
    rerun = {be_object(ws, e) for e in execlog.executed(entries, "ThinLtoBackend")}
    assert (unit.target, edit.obj) in changed
    assert {t for t, _ in changed} == {unit.target}
    assert rerun == changed
    assert len(execlog.executed(entries, "Modpost")) == 1
    kos = [p for e in execlog.executed(entries, "ModuleLink") for p in execlog.outputs(e)]
    if edit.unit != "vmlinux.o":
        assert execlog.executed(entries, "InitcallScan") == []
        # Exactly the edited module's .ko is linked again, and installed.
        assert [p.split("/modules/", 1)[1] for p in kos] == [edit.unit[:-len(".o")] + ".ko"]
        assert len(execlog.executed(entries, "ModulesInstall")) == 1
    else:
        # No export changed: no .ko is linked again, nothing installed.
        assert kos == []
    return rerun


@pytest.mark.parametrize("which", sorted(EDITS))
def test_edit_reruns_only_affected_backends_with_local_cache(setup, which, tmp_path):
    edit = EDITS[which]
    kernels.edit(setup.source, edit.file, edit.old, edit.a)
    try:
        log = str(tmp_path / "edit.json")
        setup.ws.bazel("build", *TARGETS, f"--disk_cache={setup.disk_cache}",
                       f"--execution_log_json_file={log}")
        entries = execlog.read(log)
        after = be_state(setup.ws, setup.units)
    finally:
        kernels.edit(setup.source, edit.file, edit.a, edit.old)
    rerun = _check_edit(setup.ws, setup, edit, entries, after)
    if edit.unit == "vmlinux.o":
        # Only the shard holding sys.o is re-scanned; its initcalls are the
        # same, so Kbuild's ordering script does not run again.
        scans = execlog.executed(entries, "InitcallScan")
        assert len(scans) == 1
        assert any(p.endswith("/kernel/sys.o.initcalls") for p in execlog.outputs(scans[0]))
        assert execlog.executed(entries, "InitcallOrder") == []
    (unit,) = [u for u in setup.units if u.name == edit.unit]
    print(f"one-line edit of {edit.file}: {len(rerun)} of {len(unit.bitcode)} backends "
          f"of {edit.unit} re-ran: {sorted(o for _, o in rerun)}")
    assert len(rerun) <= max(1, len(unit.bitcode) // 2)


@pytest.mark.parametrize("which", sorted(EDITS))
def test_edit_in_second_output_base_hits_shared_disk_cache(setup, which, tmp_path):
    edit = EDITS[which]
    source = kernels.private_source(str(tmp_path / "linux-b"))
    kernels.edit(source, edit.file, edit.old, edit.b)
    ws = kernels.new_workspace(str(tmp_path / "b"))
    ws.configure(f"--source={source}")
    log = str(tmp_path / "b.json")
    try:
        ws.bazel("build", *TARGETS, f"--disk_cache={setup.disk_cache}",
                 f"--execution_log_json_file={log}")
        after = be_state(ws, setup.units)
    finally:
        ws.shutdown()
    entries = execlog.read(log)
    hits = [e for e in entries if e["mnemonic"] == "ThinLtoCompile" and e["remoteCacheHit"]]
    assert len(hits) == len(setup.bitcode) - 1
    rerun = _check_edit(ws, setup, edit, entries, after, other_source=True)
    be_hits = [e for e in entries if e["mnemonic"] == "ThinLtoBackend" and e["remoteCacheHit"]]
    print(f"second output base: {len(rerun)} backends ran, {len(be_hits)} disk-cache hits")
    assert len(be_hits) == sum(len(u.bitcode) for u in setup.units) - len(rerun)


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


def test_report_explains_an_edit_build(setup, tmp_path):
    """`./kthin report` of a one-line edit of kernel/sys.c: the actions that
    ran are the edit's, its critical path goes from sys.o's FE through
    vmlinux.o's thin link, a backend and the final link, and the text and
    picture are written."""
    edit = EDITS["vmlinux"]
    new = edit.old.replace("current)", "current) + 5")
    kernels.edit(setup.source, edit.file, edit.old, new)
    try:
        log, profile = str(tmp_path / "edit.json"), str(tmp_path / "edit.profile.gz")
        setup.ws.bazel("build", *TARGETS, f"--disk_cache={setup.disk_cache}",
                       f"--execution_log_json_file={log}", f"--profile={profile}")
    finally:
        kernels.edit(setup.source, edit.file, new, edit.old)
    report = setup.ws.report(profile, log, str(tmp_path / "report"))
    f = report.figures
    entries = execlog.read(log)
    rows = {r["phase"]: r for r in f["phases"]}
    assert rows["FE"]["actions"] == 1
    assert rows["thin link"]["actions"] == 1
    assert rows["BE"]["actions"] == len(execlog.executed(entries, "ThinLtoBackend"))
    path = f["critical_path"]
    assert path[0]["mnemonic"] == "ThinLtoCompile"
    assert path[0]["output"].endswith("/objects/" + edit.obj)
    mnemonics = [t["mnemonic"] for t in path]
    assert mnemonics[1:4] == ["ThinLtoIndex", "ThinLtoBackend", "RelocatableLink"], mnemonics
    assert "/vmlinux_o_thin_link/" in path[1]["output"]
    print(f"edit build: simulated {f['simulated_own_slots']:.1f} s, "
          f"measured {f['measured']:.1f} s")
    assert f"measured {f['measured']:.1f} s" in report.text
    with open(report.svg) as svg:
        assert svg.read().count("<title>") == f["actions"]
