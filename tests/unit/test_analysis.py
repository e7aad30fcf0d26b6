"""Runs the Starlark analysis tests (tests/analysis): each phase's actions on
a tiny hand-written kernel, checked in seconds by Bazel without a build."""

import glob
import json
import os
import subprocess

from tools.kthinlto import buildgraph

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = ("frontend_test", "thin_link_test", "backend_test", "initcalls_test", "final_link_test",
         "second_unit_thin_link_test", "second_unit_backend_test", "second_unit_test",
         "modules_test")
# Whether each modules action may run remotely (Bazel 4's Starlark Action
# has no execution_info, so modules_test cannot see it; aquery can).
MODULES_REMOTABLE = {"Modpost": False, "ModuleInfoCompile": True, "ModuleLink": True,
                     "ModulesBuiltin": False, "ModulesInstall": False}


def test_each_phase_registers_the_actions_it_should(tmp_path):
    output_base = str(tmp_path / "output_base")
    bazel = ["bazel", f"--output_base={output_base}", "--max_idle_secs=60"]
    try:
        proc = subprocess.run(bazel + ["test", "//tests/analysis:all", "--test_output=errors"],
                              cwd=REPO, capture_output=True, text=True, timeout=600)
        aquery = subprocess.run(
            bazel + ["aquery", "--output=jsonproto",
                     'mnemonic("%s", //tests/analysis:modules)' % "|".join(MODULES_REMOTABLE)],
            cwd=REPO, capture_output=True, text=True, timeout=600)
    finally:
        subprocess.run(bazel + ["shutdown"], cwd=REPO, capture_output=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    # Every phase's test ran and passed (none skipped or left out).
    for name in TESTS:
        assert f"//tests/analysis:{name}" in proc.stdout + proc.stderr
    assert f"{len(TESTS)} tests pass" in proc.stdout + proc.stderr
    logs = glob.glob(os.path.join(output_base, "execroot/*/bazel-out/*/testlogs/tests/analysis/*/test.log"))
    assert len(logs) == len(TESTS)
    assert aquery.returncode == 0, aquery.stderr[-4000:]
    remotable = {a.mnemonic: a.remotable
                 for a in buildgraph.actions_of(json.loads(aquery.stdout))}
    assert remotable == MODULES_REMOTABLE
