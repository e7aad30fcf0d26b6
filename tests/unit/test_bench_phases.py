"""bench/phases.py: a build's time per ThinLTO phase from Bazel's profile."""

import gzip
import json
import subprocess
import sys

from bench import phases


def event(name, start_s, dur_s, cat="action processing", out=None):
    e = {"ph": "X", "cat": cat, "name": name, "ts": start_s * 1e6, "dur": dur_s * 1e6}
    if out:
        e["out"] = out
    return e


# Which mnemonic writes which output (bench.compare saves it from aquery).
BIN = "bazel-out/k8-fastbuild/bin/external/kernel/"
MNEMONICS = {
    BIN + "objects/kernel/sys.o": "ThinLtoCompile",
    BIN + "vmlinux_o_thin_link/kernel/sys.o.thinlto.tar": "ThinLtoIndex",
    BIN + "vmlinux_o_be/kernel/sys.o": "ThinLtoBackend",
    BIN + "vmlinux_o_be/fs/ext4/super.o": "ThinLtoBackend",
    BIN + "vmlinux_o_be/kernel/fork.o": "ThinLtoBackend",
    BIN + "vmlinux.o": "RelocatableLink",
}


def test_phases_span_and_sum_each_phase_in_start_order(tmp_path):
    events = [
        # Named by progress messages that say nothing of the phase: the
        # mnemonic of the action that writes "out" decides.
        event("a", 3.0, 9.0, out=BIN + "vmlinux_o_thin_link/kernel/sys.o.thinlto.tar"),
        event("b", 0.5, 2.5, out=BIN + "objects/kernel/sys.o"),
        event("c", 12.0, 1.0, out=BIN + "vmlinux_o_be/kernel/sys.o"),
        event("d", 12.0, 3.0, out=BIN + "vmlinux_o_be/fs/ext4/super.o"),
        event("e", 13.0, 0.5, out=BIN + "vmlinux_o_be/kernel/fork.o"),
        event("f", 15.0, 10.0, out=BIN + "vmlinux.o"),
        event("subprocess.run", 0.0, 99.0, cat="general information"),
    ]
    path = tmp_path / "edit.prof.gz"
    with gzip.open(path, "wt") as f:
        json.dump({"traceEvents": events}, f)
    rows = phases.phases(phases.load(str(path)), MNEMONICS)
    assert [r[0] for r in rows] == ["FE", "thin link", "BE", "final link"]
    be = rows[2]
    assert be[1] == 3 and be[2] == 12.0 and be[3] == 3.0 and be[4] == 4.5 and be[5] == 3.0
    assert "BE" in phases.format_phases(rows)
    # FE 2.5 + thin link 9 + BE max(4.5 / 2, 3.0) + final link 10.
    assert phases.floor(rows, 2) == 2.5 + 9.0 + 3.0 + 10.0
    assert phases.floor(rows, 1) == 2.5 + 9.0 + 4.5 + 10.0


def test_an_action_of_no_known_mnemonic_is_other():
    assert phases.phase_of(event("Building vmlinux", 0, 1, out="x"), MNEMONICS) == "other"
    assert phases.phase_of(event("ThinLTO backend x", 0, 1), MNEMONICS) == "other"


def test_the_steps_after_the_final_links_count_in_the_floor():
    mnemonics = dict(MNEMONICS, **{BIN + "modules/fs/fuse/fuse.ko": "ModuleLink",
                                    BIN + "image/vmlinux": "KbuildTail"})
    events = [event("a", 0.0, 1.0, out=BIN + "objects/kernel/sys.o"),
              event("b", 1.0, 4.0, out=BIN + "image/vmlinux"),
              event("c", 5.0, 20.0, out=BIN + "modules/fs/fuse/fuse.ko")]
    rows = phases.phases(events, mnemonics)
    assert [r[0] for r in rows] == ["FE", "Kbuild vmlinux", "module .ko"]
    # vmlinux and the modules side by side after the final links.
    assert phases.floor(rows, 2) == 1.0 + 20.0


def test_mnemonics_of_inverts_aquery_outputs():
    assert phases.mnemonics_of({"ThinLtoBackend": ["a.o", "b.o"], "ThinLtoIndex": ["a.tar"]}) == {
        "a.o": "ThinLtoBackend", "b.o": "ThinLtoBackend", "a.tar": "ThinLtoIndex"}


def test_load_reads_plain_and_gzipped_profiles_whatever_the_name(tmp_path):
    events = [event("Compiling a.c", 1.0, 2.0)]
    plain = tmp_path / "plain.prof.gz"
    plain.write_text(json.dumps({"traceEvents": events}))
    packed = tmp_path / "packed.prof"
    with gzip.open(packed, "wt") as f:
        json.dump(events, f)
    assert phases.load(str(plain)) == phases.load(str(packed)) == events


def test_action_steps_of_the_thin_link_on_its_own_thread():
    def on(tid, e):
        return dict(e, tid=tid)
    events = [
        on(7, event("Thin-linking", 1.0, 7.0, out=BIN + "vmlinux_o_thin_link/kernel/sys.o.thinlto.tar")),
        on(7, event("action.prepare", 1.0, 0.5, cat="general information")),
        on(7, event("subprocess.run", 1.6, 3.4, cat="general information")),
        on(7, event("sandbox.copyOutputs", 5.0, 1.9, cat="general information")),
        on(7, event("actuallyCompleteAction", 7.0, 0.9, cat="complete action execution")),
        # Another thread's command, and this thread's after the action: not its.
        on(8, event("subprocess.run", 2.0, 5.0, cat="general information")),
        on(7, event("subprocess.run", 9.0, 1.0, cat="general information")),
    ]
    steps = phases.action_steps(events, "thin link", MNEMONICS)
    assert steps == [("delete its last outputs", 0.5), ("run its command", 3.4),
                     ("move its outputs out of the sandbox", 1.9),
                     ("digest its outputs", 0.9)]
    assert phases.format_steps(steps).startswith("delete its last outputs 0.50 s, ")
    assert phases.action_steps(events, "final link", MNEMONICS) == []


def test_profiles_command_prints_phases_steps_and_names_a_bad_file(tmp_path):
    events = [
        dict(event("t", 1.0, 2.0, out=BIN + "vmlinux_o_thin_link/kernel/sys.o.thinlto.tar"), tid=1),
        dict(event("subprocess.run", 1.1, 1.5, cat="general information"), tid=1),
        event("l", 3.0, 1.0, out=BIN + "vmlinux.o"),
    ]
    good = tmp_path / "edit.prof.gz"
    with gzip.open(good, "wt") as f:
        json.dump({"traceEvents": events}, f)
    repo = __file__.rsplit("/tests/", 1)[0]
    # Without the map of outputs to mnemonics: one line naming it.
    proc = subprocess.run([sys.executable, "-m", "bench.profiles", str(good)], cwd=repo,
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(f"{good}.mnemonics.json: no map")
    (tmp_path / "edit.prof.gz.mnemonics.json").write_text(json.dumps(MNEMONICS))
    out = subprocess.run([sys.executable, "-m", "bench.profiles", "--incremental", "--jobs=2",
                          str(good)], cwd=repo, capture_output=True, text=True, check=True).stdout
    assert "thin link           1 actions" in out
    assert ">= 3.0 s" in out
    assert "its thin link: run its command 1.50 s" in out
    bad = tmp_path / "notes.txt"
    bad.write_text("not json")
    proc = subprocess.run([sys.executable, "-m", "bench.profiles", str(bad)], cwd=repo,
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(f"{bad}: not a readable Bazel JSON profile")
