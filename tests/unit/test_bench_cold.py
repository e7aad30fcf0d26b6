"""bench/cold.py: the cold figures and a fresh clone's process summary;
bench/common.py's stderr capture and workspace copy."""

import os
import sys

import pytest

from bench import cold, common, report

# What Bazel 4.2.3 prints at the end of a build with --disk_cache.
STDERR = """\
INFO: Analyzed 2 targets (61 packages loaded, 1890 targets configured).
INFO: Found 2 targets...
[1,204 / 1,432] ThinLtoCompile external/kernel/kernel/sys.o; 3s linux-sandbox
INFO: Elapsed time: 312.402s, Critical Path: 41.20s
INFO: 1432 processes: 1190 remote cache hit, 222 internal, 20 linux-sandbox.
INFO: Build completed successfully, 1432 total actions
"""


def test_processes_reads_bazels_summary():
    p = cold.processes(STDERR)
    assert p == cold.Processes(1432, {"remote cache hit": 1190, "internal": 222,
                                      "linux-sandbox": 20})
    assert (p.hits, p.internal, p.executed) == (1190, 222, 20)


def test_processes_takes_the_last_summary_and_every_form():
    p = cold.processes("INFO: 3 processes: 1 internal, 2 linux-sandbox.\n"
                       "INFO: 5 processes: 2 disk cache hit, 1 internal, 1 local, 1 remote.\n")
    assert (p.total, p.hits, p.internal, p.executed) == (5, 2, 1, 2)
    assert cold.processes("INFO: 1 process: 1 internal.\n") == cold.Processes(1, {"internal": 1})
    assert cold.processes("INFO: 0 processes.\n") == cold.Processes(0, {})
    assert cold.processes("INFO: Build completed successfully\n") is None
    with pytest.raises(ValueError, match="'many internal'"):
        cold.processes("INFO: 3 processes: many internal.\n")


def test_fresh_env_empties_the_translation_cache_and_names_a_python():
    env = cold.fresh_env({"PATH": "/bin", "KTHINLTO_CACHE": "/home/u/.cache/kthinlto"},
                         "/work/clone_cache", "/venv/bin/python3")
    assert env == {"PATH": "/bin", "KTHINLTO_CACHE": "/work/clone_cache",
                   "KTHINLTO_PYTHON": "/venv/bin/python3"}


def test_rows_and_summary_carry_each_part():
    c = cold.Cold(translation=40.0, bazel_build=300.0, kbuild_config=5.0, kbuild_make=295.0,
                  fresh=60.0, fresh_processes=cold.processes(STDERR))
    assert cold.rows(c) == [
        ("cold: translation (Kbuild: config)", 40.0, 5.0),
        ("cold: bazel build (Kbuild: make)", 300.0, 295.0),
        ("cold, translation included", 340.0, 300.0),
        (cold.FRESH_ROW, 60.0, 300.0),
    ]
    assert all(len(name) <= report.NAME for name, _, _ in cold.rows(c))
    s = cold.summary(c)
    assert s["cold"] == [340.0, 300.0]
    assert s["cold_parts"] == {"translation": 40.0, "bazel_build": 300.0,
                               "kbuild_config": 5.0, "kbuild_make": 295.0}
    assert s["fresh_clone"] == {"seconds": 60.0, "processes": {
        "total": 1432, "cache_hits": 1190, "executed": 20, "internal": 222}}
    assert cold.describe_processes(c.fresh_processes) == (
        "1432 processes: 1190 cache hits, 20 executed, 222 internal (Bazel's own)")
    none = cold.Cold(1.0, 2.0, 3.0, 4.0, 5.0, None)
    assert cold.summary(none)["fresh_clone"]["processes"] is None
    assert cold.describe_processes(None) == "Bazel printed no process summary"


def test_timed_stderr_keeps_and_passes_on_stderr(capsys):
    seconds, err = common.timed_stderr(
        [sys.executable, "-c", "import os, sys; print('out'); "
         "print(os.environ['X'], file=sys.stderr)"], env={**os.environ, "X": "from env"})
    assert err == "from env\n" and seconds >= 0
    assert "from env\n" in capsys.readouterr().err
    with pytest.raises(Exception, match="returned non-zero exit status 3"):
        common.timed_stderr([sys.executable, "-c", "raise SystemExit(3)"])


def test_copy_workspace_leaves_bazels_links_only(tmp_path):
    ws, dest = tmp_path / "ws", tmp_path / "clone"
    (ws / "kernels").mkdir(parents=True)
    (ws / "kernels" / "kernel.json").write_text("{}")
    (ws / "kernels" / "bazel-x").write_text("a file")
    (ws / "bazel-bin").symlink_to(tmp_path)
    (ws / "link").symlink_to("kernels/kernel.json")
    common.copy_workspace(str(ws), str(dest))
    assert sorted(os.listdir(dest)) == ["kernels", "link"]
    assert sorted(os.listdir(dest / "kernels")) == ["bazel-x", "kernel.json"]
    assert os.readlink(dest / "link") == "kernels/kernel.json"


def test_config_differences_name_each_option_set_differently():
    kbuild = {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": '"x"'}
    assert cold.config_differences(kbuild, dict(kbuild)) == []
    ours = {"CONFIG_A": "y", "CONFIG_B": "y", "CONFIG_D": "m"}
    assert cold.config_differences(kbuild, ours) == [
        "CONFIG_B: n / y", 'CONFIG_C: "x" / (absent)', "CONFIG_D: (absent) / m"]
