"""`./kthin report` on the suite's own cold build of the default kernel
(vmlinux.o and its modules, every action run locally on this machine): it
accounts for every action, finds the critical path Bazel itself found, and
its simulation of the build's own slots predicts the wall time the build
took.  (An edit build's report: test_incremental.py.)
"""

import collections
import xml.etree.ElementTree as ET

import pytest

from tools.kthinlto import buildgraph, execlog, schedule

# How far the simulation of the measured build's own slots may be from its
# measured wall time (first action to last), as a fraction of it.
TOLERANCE = 0.10
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def cold(default_kernel, tmp_path_factory):
    k = default_kernel
    return k.ws.report(k.profile, k.exec_log, str(tmp_path_factory.mktemp("report")),
                       "--targets=@kernel//:vmlinux_o,@kernel//:modules")


def test_report_counts_every_action_the_build_ran(default_kernel, cold):
    # The execution log has every spawn; the report (from the profile) must
    # have each of them, phase by phase: none merged, none lost.
    logged = collections.Counter(buildgraph.phase_of(e["mnemonic"])
                                 for e in execlog.read(default_kernel.exec_log))
    rows = {r["phase"]: r for r in cold.figures["phases"]}
    for phase, n in logged.items():
        assert rows[phase]["actions"] == n, phase
        assert rows[phase]["local"] == n, phase  # a cold local build: all ran here
    assert {"FE", "thin link", "BE", "final link"} <= set(rows)


def test_critical_path_is_bazels_and_runs_through_every_thinlto_phase(cold):
    f = cold.figures
    mnemonics = [t["mnemonic"] for t in f["critical_path"]]
    # FE, then the thin link that waits for it, a BE of that thin link's
    # bundles, the final link that waits for the BE, in that order.
    order = [mnemonics.index(m) for m in
             ("ThinLtoCompile", "ThinLtoIndex", "ThinLtoBackend", "RelocatableLink")]
    assert order == sorted(order), mnemonics
    assert f["critical_path_seconds"] == pytest.approx(f["bazel_critical_path_seconds"],
                                                       rel=0.05)
    assert f"critical path: {f['critical_path_seconds']:.1f} s" in cold.text


def test_simulation_of_the_builds_own_slots_predicts_its_wall_time(default_kernel, cold):
    f = cold.figures
    # The slots are the measured build's own: the most actions it ran at
    # once (Bazel's --jobs, by default this machine's cores).
    build = buildgraph.build_of(buildgraph.load_profile(default_kernel.profile), [])
    assert f["remote_slots"] == 0 and f["jobs"] == schedule.peak_concurrency(build.tasks) >= 1
    print(f"simulated {f['simulated_own_slots']:.1f} s, measured {f['measured']:.1f} s")
    assert f["simulated_own_slots"] == pytest.approx(f["measured"], rel=TOLERANCE)
    # The report prints the prediction beside the measured wall.
    assert (f"simulated on the build's own {f['jobs']} local slots: "
            f"{f['simulated_own_slots']:.1f} s; measured {f['measured']:.1f} s") in cold.text


def test_more_workers_never_take_longer_nor_beat_the_critical_path(cold):
    f = cold.figures
    walls = [w for _, w in f["simulated"]]
    assert [n for n, _ in f["simulated"]] == [1, 2, 8, 32, 100, 1000]
    assert walls == sorted(walls, reverse=True)
    assert walls[-1] >= f["critical_path_seconds"]


def test_bytes_of_a_remote_build_against_the_minimum(cold):
    b = cold.figures["bytes"]
    assert {"FE", "BE", "thin link"} <= set(b["declared"])
    up = b["upload"]
    # The bundles a remote build uploads carry copies of bitcode the FE
    # already sent; taken apart they are less.
    assert up["by_kind"]["outputs of local actions"] > 0
    assert 0 < b["minimum_kernel_bytes"] < up["kernel_bytes"]
    assert "a remote build of these actions uploads" in cold.text


def test_picture_draws_every_action_and_marks_the_critical_path(cold):
    root = ET.parse(cold.svg).getroot()
    bars = [r for r in root.iter(SVG + "rect") if r.find(SVG + "title") is not None]
    assert len(bars) == cold.figures["actions"]
    marked = [r for r in bars if r.get("stroke")]
    assert len(marked) == len(cold.figures["critical_path"])
    # The scaling chart: a point per simulated number of workers.
    assert len(list(root.iter(SVG + "circle"))) == len(cold.figures["simulated"])
