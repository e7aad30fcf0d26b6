"""The report's parts on a hand-made build: the action graph joined with a
profile, the bytes of a remote build, the picture and the text."""

import io
import tarfile

from tools.kthinlto import buildgraph, picture, report, schedule, traffic

# A ThinLTO build in Bazel 4's aquery form: two FE, a thin link writing two
# bundles, two BE (remotable), a local final link.
ARTIFACTS = ["src/a.c", "src/b.c", "obj/a.o", "obj/b.o", "tl/a.o.thinlto.tar",
             "tl/b.o.thinlto.tar", "be/a.o", "be/b.o", "vmlinux.o"]


def aquery() -> dict:
    ids = {p: i + 1 for i, p in enumerate(ARTIFACTS)}

    def action(mnemonic, outs, depsets, local=False):
        return {"mnemonic": mnemonic, "outputIds": [ids[o] for o in outs],
                "inputDepSetIds": depsets,
                "executionInfo": [{"key": "no-remote-exec"}] if local else []}
    return {
        "artifacts": [{"id": i, "execPath": p} for p, i in ids.items()],
        "depSetOfFiles": [
            {"id": 1, "directArtifactIds": [ids["src/a.c"]]},
            {"id": 2, "directArtifactIds": [ids["src/b.c"]]},
            {"id": 3, "directArtifactIds": [ids["obj/a.o"], ids["obj/b.o"]]},
            {"id": 4, "directArtifactIds": [ids["tl/a.o.thinlto.tar"]], "transitiveDepSetIds": [5]},
            {"id": 5, "directArtifactIds": [ids["obj/a.o"]]},
            {"id": 6, "directArtifactIds": [ids["tl/b.o.thinlto.tar"], ids["obj/b.o"]]},
            {"id": 7, "directArtifactIds": [ids["be/a.o"], ids["be/b.o"]]},
        ],
        "actions": [
            action("ThinLtoCompile", ["obj/a.o"], [1]),
            action("ThinLtoCompile", ["obj/b.o"], [2]),
            action("ThinLtoIndex", ["tl/a.o.thinlto.tar", "tl/b.o.thinlto.tar"], [3], local=True),
            action("ThinLtoBackend", ["be/a.o"], [4]),
            action("ThinLtoBackend", ["be/b.o"], [6]),
            action("RelocatableLink", ["vmlinux.o"], [7], local=True),
        ],
    }


def event(out: str, start: float, dur: float) -> dict:
    return {"ph": "X", "cat": "action processing", "name": "action",
            "ts": start * 1e6, "dur": dur * 1e6, "args": {"out": out}}


def profile(skip=()) -> dict:
    events = [event("obj/a.o", 10, 2), event("obj/b.o", 10, 3),
              event("tl/a.o.thinlto.tar", 13, 1), event("be/a.o", 14, 4),
              event("be/b.o", 14, 2), event("vmlinux.o", 18, 1)]
    return {"traceEvents": [e for e in events if e["args"]["out"] not in skip]
            + [{"ph": "i", "name": "Launch Blaze", "ts": 0}]}


def test_actions_of_flattens_nested_inputs_and_reads_local_requirements():
    actions = {a.outputs[0]: a for a in buildgraph.actions_of(aquery())}
    assert actions["be/a.o"].inputs == {"tl/a.o.thinlto.tar", "obj/a.o"}
    assert actions["be/a.o"].remotable
    assert not actions["vmlinux.o"].remotable
    assert actions["tl/a.o.thinlto.tar"].outputs == ("tl/a.o.thinlto.tar", "tl/b.o.thinlto.tar")


def test_build_of_joins_events_to_actions_and_waits_for_their_writers():
    build = buildgraph.build_of(profile(), buildgraph.actions_of(aquery()))
    tasks = {t.name: t for t in build.tasks}
    assert tasks["be/a.o"].deps == ("obj/a.o", "tl/a.o.thinlto.tar")
    assert tasks["tl/a.o.thinlto.tar"].deps == ("obj/a.o", "obj/b.o")
    assert tasks["vmlinux.o"].deps == ("be/a.o", "be/b.o")
    assert tasks["be/b.o"].phase == "BE" and tasks["be/b.o"].remotable
    assert tasks["obj/a.o"].start == 0.0 and tasks["be/a.o"].start == 4.0
    assert (build.first, build.last, build.span) == (10.0, 19.0, 9.0)
    # FE b 3 s, thin link 1 s, BE a 4 s, link 1 s.
    assert [t.name for t in schedule.critical_path(build.tasks)] == [
        "obj/b.o", "tl/a.o.thinlto.tar", "be/a.o", "vmlinux.o"]
    # Replayed on the two slots it ran on: what it took.
    assert schedule.local_wall(build.tasks, 2) == build.span


def test_an_action_the_build_did_not_run_is_not_waited_for():
    build = buildgraph.build_of(profile(skip={"obj/a.o", "obj/b.o"}),
                                buildgraph.actions_of(aquery()))
    tasks = {t.name: t for t in build.tasks}
    assert tasks["tl/a.o.thinlto.tar"].deps == ()
    assert tasks["be/a.o"].deps == ("tl/a.o.thinlto.tar",)


def entry(mnemonic, inputs, outputs, remotable=True, runner="linux-sandbox"):
    def files(pairs):
        # Outputs are under bazel-out/ in an execroot.
        return [{"path": p if p.startswith("external/") else "bazel-out/" + p, "digest": {"hash": h, "sizeBytes": str(s)}} for p, h, s in pairs]
    return {"mnemonic": mnemonic, "inputs": files(inputs), "actualOutputs": files(outputs),
            "remotable": remotable, "runner": runner}


def log() -> list[dict]:
    """Two FE reading one 100-byte header; two bundles of 60 and 50 bytes,
    each carrying the other's 20-byte bitcode; a clang of 1000 bytes."""
    clang = ("external/kthinlto_llvm/bin/clang", "clang", 1000)
    return [
        entry("ThinLtoCompile", [("external/kernel/src/a.c", "ac", 10), ("external/kernel/src/x.h", "xh", 100), clang],
              [("obj/a.o", "ao", 20)]),
        entry("ThinLtoCompile", [("external/kernel/src/b.c", "bc", 10), ("external/kernel/src/x.h", "xh", 100), clang],
              [("obj/b.o", "bo", 20)]),
        entry("ThinLtoIndex", [("obj/a.o", "ao", 20), ("obj/b.o", "bo", 20)],
              [("tl/a.o.thinlto.tar", "ta", 60), ("tl/b.o.thinlto.tar", "tb", 50)], False),
        entry("ThinLtoBackend", [("tl/a.o.thinlto.tar", "ta", 60), ("obj/a.o", "ao", 20), clang],
              [("be/a.o", "bea", 30)]),
        entry("ThinLtoBackend", [("tl/b.o.thinlto.tar", "tb", 50), ("obj/b.o", "bo", 20), clang],
              [("be/b.o", "beb", 30)], runner="remote"),
    ]


def test_declared_bytes_count_every_actions_inputs():
    assert traffic.declared_bytes(log()) == {
        "FE": {"kernel sources": 2 * 110, "toolchain and tools": 2 * 1000},
        "thin link": {"outputs of local actions": 40},
        "BE": {"outputs of local actions": 80 + 70, "toolchain and tools": 2 * 1000}}


def test_upload_is_each_blob_no_remote_action_wrote_once():
    up = traffic.upload(log())
    # Sources and the header once, clang once, the two bundles; not the
    # bitcode (the remote FE wrote it).
    assert set(up.blobs) == {"ac", "bc", "xh", "clang", "ta", "tb"}
    assert up.bytes == 10 + 10 + 100 + 1000 + 60 + 50
    assert up.by_kind() == {"kernel sources": 120, "toolchain and tools": 1000,
                            "outputs of local actions": 110}
    assert up.kernel_bytes == 230


def test_the_minimum_takes_each_bundle_apart():
    members = {"bazel-out/tl/a.o.thinlto.tar": {"a.o.thinlto.bc": ("ia", 5), "a.o.imports": ("la", 3),
                                      "b.o": ("bo", 20)},
               "bazel-out/tl/b.o.thinlto.tar": {"b.o.thinlto.bc": ("ib", 4), "b.o.imports": ("lb", 3),
                                      "a.o": ("ao", 20)}}
    least = traffic.upload(log(), members=members.__getitem__)
    assert set(least.blobs) == {"ac", "bc", "xh", "clang", "ia", "la", "ib", "lb"}
    assert least.bytes == 1120 + 5 + 3 + 4 + 3


def test_bundle_members_reads_a_real_tar(tmp_path):
    path = tmp_path / "a.o.thinlto.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in (("a.o.thinlto.bc", b"index"), ("b.o", b"bitcode!")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    got = report.bundle_members(str(tmp_path))("a.o.thinlto.tar")
    assert {n: s for n, (_, s) in got.items()} == {"a.o.thinlto.bc": 5, "b.o": 8}


def test_the_picture_has_a_bar_per_action_and_marks_the_critical_path():
    build = buildgraph.build_of(profile(), buildgraph.actions_of(aquery()))
    path = schedule.critical_path(build.tasks)
    svg = picture.svg(build.tasks, path, [(1, 12.0), (2, 9.0), (100, 9.0)], "test build")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    bars = [line for line in svg.splitlines() if line.startswith("<rect") and "<title>" in line]
    assert len(bars) == len(build.tasks)
    marked = [b for b in bars if f'stroke="{picture.CRITICAL}"' in b]
    assert len(marked) == len(path)
    assert "critical path 9.0 s" in svg


def test_lanes_never_overlap():
    tasks = [schedule.Task(f"t{i}", "BE", 1.0, start=i * 0.5) for i in range(6)]
    rows = picture.lanes(tasks)
    assert max(rows.values()) == 1  # two at a time at most
    assert rows["t0"] == rows["t2"] == rows["t4"] and rows["t1"] == rows["t3"]


def test_the_text_puts_the_simulated_wall_beside_the_measured_one():
    build = buildgraph.build_of(profile(), buildgraph.actions_of(aquery()))
    f = report.figures(profile(), build, log(), None, jobs=2, remote_slots=0,
                       workers=[1, 2, 100], overhead=0.5)
    text = report.text(f)
    walls = f["simulated"]
    assert "simulated on the build's own 2 local slots: 9.0 s; measured 9.0 s" in text
    assert "critical path: 9.0 s in 4 actions" in text
    assert [n for n, _ in walls] == [1, 2, 100]
    # 100 workers: the BE pay 0.5 s each; FE run remotely too.
    assert walls[-1][1] == 3.5 + 1 + 4.5 + 1
    assert "uploads 0.0 MB (6 distinct blobs), 0.0 MB of them the kernel's" in text
    assert "the whole command took 19.0 s, of which 10.0 s before the first action" in text


def test_an_edit_uploads_only_what_the_cas_lacks():
    # After the cold build the CAS has every blob it read or wrote; an edit
    # of a.c uploads the new source and the new bundle only.
    cold = log()
    edit = [entry("ThinLtoCompile", [("external/kernel/src/a.c", "ac2", 11),
                                     ("external/kernel/src/x.h", "xh", 100)],
                  [("obj/a.o", "ao2", 21)]),
            entry("ThinLtoIndex", [("obj/a.o", "ao2", 21), ("obj/b.o", "bo", 20)],
                  [("tl/a.o.thinlto.tar", "ta2", 61), ("tl/b.o.thinlto.tar", "tb", 50)], False),
            entry("ThinLtoBackend", [("tl/a.o.thinlto.tar", "ta2", 61), ("obj/a.o", "ao2", 21)],
                  [("be/a.o", "bea2", 30)])]
    up = traffic.upload(edit, known=traffic.digests(cold))
    assert set(up.blobs) == {"ac2", "ta2"}


def test_a_null_build_is_reported_as_no_action():
    empty = {"traceEvents": [{"ph": "i", "name": "Launch Blaze", "ts": 0}]}
    build = buildgraph.build_of(empty, buildgraph.actions_of(aquery()))
    f = report.figures(empty, build, [], None, jobs=2, remote_slots=0, workers=[1, 100],
                       overhead=0.3)
    assert f["actions"] == 0 and f["simulated"] == [[1, 0.0], [100, 0.0]]
    assert report.text(f).startswith("0 actions ran")
    assert picture.svg(build.tasks, [], [(1, 0.0), (100, 0.0)], "null").count("<title>") == 0


def test_a_null_build_ran_no_action_though_bazel_wrote_its_status():
    status = {"ph": "X", "cat": "action processing", "name": "BazelWorkspaceStatusAction "
              "stable-status.txt", "out": "bazel-out/stable-status.txt", "ts": 1, "dur": 2}
    compile_ = {"ph": "X", "cat": "action processing", "name": "Compiling src/kernel/sys.c",
                "out": "bazel-out/k8-fastbuild/bin/external/kernel/objects/kernel/sys.o",
                "ts": 3, "dur": 4}
    assert not buildgraph.ran_actions({"traceEvents": [status]})
    assert buildgraph.ran_actions({"traceEvents": [status, compile_]})
