"""buildifier --lint=warn (npm @bazel/buildifier) reports nothing."""

import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_buildifier_lint_warn_is_clean():
    buildifier = os.path.join(REPO, "node_modules/.bin/buildifier")
    assert os.path.exists(buildifier), "run ./kthin setup (npm install)"
    files = subprocess.run(
        ["git", "ls-files", "*.bzl", "*.bazel", "WORKSPACE", "*/WORKSPACE", "WORKSPACE.bzlmod",
         "MODULE.bazel"], cwd=REPO, check=True, capture_output=True,
        text=True).stdout.split()
    assert "rules/defs.bzl" in files and "MODULE.bazel" in files and "e2e/WORKSPACE" in files
    proc = subprocess.run([buildifier, "--mode=check", "--lint=warn", *files],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout and not proc.stderr, (
        proc.stdout + proc.stderr)
