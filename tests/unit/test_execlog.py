"""tools/kthinlto/execlog.py on a hand-written JSON execution log."""

from tools.kthinlto import execlog

LOG = """{
  "commandArgs": ["clang"], "mnemonic": "ThinLtoBackend", "runner": "linux-sandbox",
  "remoteCacheHit": false,
  "inputs": [{"path": "a.o", "digest": {"hash": "1", "sizeBytes": "1"}}],
  "actualOutputs": [{"path": "out/a.o"}]
}
{
  "mnemonic": "ThinLtoBackend", "remoteCacheHit": true, "runner": "remote cache hit",
  "actualOutputs": [{"path": "out/b.o"}]
}{"mnemonic": "ThinLtoIndex", "runner": "linux-sandbox"}
"""


def test_reads_concatenated_json_objects(tmp_path):
    p = tmp_path / "log.json"
    p.write_text(LOG)
    entries = execlog.read(str(p))
    assert [e["mnemonic"] for e in entries] == ["ThinLtoBackend", "ThinLtoBackend", "ThinLtoIndex"]


def test_figures_per_phase_split_hits_from_executions(tmp_path):
    p = tmp_path / "log.json"
    p.write_text(LOG)
    entries = execlog.read(str(p))
    phases = execlog.by_phase(entries)
    assert phases["ThinLtoBackend"] == {"executed linux-sandbox": 1, "cache hit": 1}
    assert phases["ThinLtoIndex"] == {"executed linux-sandbox": 1}
    assert [execlog.outputs(e) for e in execlog.executed(entries, "ThinLtoBackend")] == [["out/a.o"]]
    assert execlog.input_paths(entries[0]) == ["a.o"]


def test_figures_table_counts_remote_local_and_hits(tmp_path):
    p = tmp_path / "log.json"
    p.write_text(LOG)
    rows = execlog.figures(execlog.read(str(p))).splitlines()
    assert rows[0].split() == ["mnemonic", "remote", "local", "cache", "hit"]
    assert rows[1].split() == ["ThinLtoBackend", "0", "1", "1"]
    assert rows[2].split() == ["ThinLtoIndex", "0", "1", "0"]


AQUERY = {
    "artifacts": [{"id": 1, "execPath": "bazel-out/k8/bin/external/kernel/be/kernel/sys.o"},
                  {"id": 2, "execPath": "bazel-out/k8/bin/external/kernel/be/lib/string.o"},
                  {"id": 3, "execPath": "bazel-out/k8/bin/external/kernel/x.tar"}],
    "actions": [{"mnemonic": "ThinLtoBackend", "outputIds": [1]},
                {"mnemonic": "ThinLtoBackend", "outputIds": [2]},
                {"mnemonic": "ThinLtoIndex", "outputIds": [3]}],
}


def test_output_dirs_are_found_by_mnemonic():
    assert execlog.output_dirs(AQUERY) == {
        "ThinLtoBackend": "bazel-out/k8/bin/external/kernel/be",
        "ThinLtoIndex": "bazel-out/k8/bin/external/kernel"}


def test_aquery_outputs_read_path_fragments_too():
    aquery = {"pathFragments": [{"id": 1, "label": "bazel-out"}, {"id": 2, "label": "a.o", "parentId": 1}],
              "artifacts": [{"id": 7, "pathFragmentId": 2}],
              "actions": [{"mnemonic": "X", "outputIds": [7]}]}
    assert execlog.aquery_outputs(aquery) == {"X": ["bazel-out/a.o"]}
