"""Runs the Starlark analysis tests (tests/analysis): each phase's actions on
a tiny hand-written kernel, checked in seconds by Bazel without a build."""

import glob
import json
import os
import subprocess

from tools.kthinlto import buildgraph, contract

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
        # The documented pattern for this repository's tests (docs/usage.md).
        proc = subprocess.run(bazel + ["test", "//tests/...", "--test_output=errors"],
                              cwd=REPO, capture_output=True, text=True, timeout=600)
        aquery = subprocess.run(
            bazel + ["aquery", "--output=jsonproto",
                     'mnemonic("%s", //tests/analysis:modules)' % "|".join(MODULES_REMOTABLE)],
            cwd=REPO, capture_output=True, text=True, timeout=600)
        every = subprocess.run(bazel + ["aquery", "--output=jsonproto",
                                        "deps(//tests/analysis:all)"],
                               cwd=REPO, capture_output=True, text=True, timeout=600)
    finally:
        subprocess.run(bazel + ["shutdown"], cwd=REPO, capture_output=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    # No host path in any action of the kernel's phases: the one rule of
    # the end-to-end tests (buildgraph.action_host_paths), on the fake kernel.
    assert every.returncode == 0, every.stderr[-4000:]
    ours = [a for a in json.loads(every.stdout)["actions"]
            if a["mnemonic"] in contract.MNEMONIC.values()]
    assert {a["mnemonic"] for a in ours} >= {"ThinLtoCompile", "ThinLtoIndex", "ThinLtoBackend",
                                             "RelocatableLink", "ModuleLink", "Modpost"}
    assert buildgraph.action_host_paths({"actions": ours}) == []
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


def test_a_kernel_of_another_schema_is_refused_naming_the_fix(tmp_path):
    """rules/private/schema.bzl: a kernel.bzl written by an older or newer
    translator stops the loading with one line and the fix."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "WORKSPACE").write_text(f'local_repository(name = "kthinlto", path = "{REPO}")\n')
    older_made, newer_made = contract.KERNEL_SCHEMA - 1, contract.KERNEL_SCHEMA + 1
    for made in (older_made, newer_made):
        pkg = ws / f"schema{made}"
        pkg.mkdir()
        (pkg / "BUILD").write_text(
            'load("@kthinlto//rules:defs.bzl", "kernel_link_units")\n'
            'load("@kthinlto//tests/analysis:fake_kernel.bzl", "KERNEL")\n'
            f'kernel_link_units(name = "objects", kernel = dict(KERNEL, schema = {made}))\n')
    bazel = ["bazel", f"--output_base={tmp_path / 'output_base'}", "--max_idle_secs=60"]
    try:
        older, newer = (subprocess.run(bazel + ["query", f"//schema{made}:all"], cwd=ws,
                                       capture_output=True, text=True, timeout=600)
                        for made in (older_made, newer_made))
    finally:
        subprocess.run(bazel + ["shutdown"], cwd=ws, capture_output=True)
    for proc, made, word in ((older, older_made, "n older"), (newer, newer_made, " newer")):
        assert proc.returncode != 0
        assert (f"kthinlto: this kernel was translated by a{word} translator (kernel.bzl "
                f"schema {made}; these rules read {contract.KERNEL_SCHEMA}): run ./kthin "
                "configure again") in proc.stderr, proc.stderr[-3000:]
