"""Repository hygiene: buildifier --lint=warn (npm @bazel/buildifier) reports
nothing, and pytest can collect every test file."""

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


def test_test_files_have_unique_names():
    # The test directories are no packages: pytest imports each test file
    # by its name, and two of one name stop the whole run at collection.
    files = subprocess.run(["git", "ls-files", "tests/**/test_*.py", "tests/test_*.py"], cwd=REPO,
                           check=True, capture_output=True, text=True).stdout.split()
    names = [os.path.basename(f) for f in files]
    assert len(names) > 50
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
