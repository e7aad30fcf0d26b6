"""`./kthin report` with no profile given explains the last build that ran
actions: after a null build (or its own aquery) it says so in one line and
explains the build before, whose profile Bazel itself has overwritten
(tools/kthinlto/keep_profile.sh, Bazel's workspace status command, keeps
it)."""

import os

from tests.e2e import kernels

NOTE = "kthin report: the last command ran no action (a null build, or not a build)"


def _report(ws: kernels.Workspace, *flags: str):
    # The graph of what the builds built (a small aquery).
    return kernels.run([os.path.join(ws.root, "kthin"), "report",
                        f"--bazel=bazel,--output_base={ws.output_base},--max_idle_secs=600",
                        "--targets=@kernel//:kernel/sys.o", *flags], cwd=ws.root)


def _explained(report: str) -> str:
    """The report after its `build:` line (which names the profile)."""
    return report.split("build: ", 1)[1].split("\n", 1)[1]


def test_report_after_a_null_build_says_so_and_explains_the_build_before(default_kernel, tmp_path):
    ws = kernels.new_workspace(str(tmp_path))
    try:
        # A build that runs one action (a new output base, no cache), then
        # a null build, as a user types them; the report comes after both.
        ws.bazel("build", "@kernel//:kernel/sys.o")
        ws.bazel("build", "@kernel//:kernel/sys.o")
        after_null = _report(ws)
        after_aquery = _report(ws)                  # after its own aquery
        # The build's profile, by the name the report gave it.
        kept = after_null.stdout.splitlines()[0].rsplit("(", 1)[1].rstrip(")")
        given = _report(ws, f"--profile={kept}")
    finally:
        ws.shutdown()
    for later in (after_null, after_aquery):
        lines = later.stdout.splitlines()
        assert lines[0].startswith(NOTE), lines[:3]
        assert _explained(later.stdout) == _explained(given.stdout)
    # What was explained is the build that compiled kernel/sys.o: one action.
    assert NOTE not in given.stdout
    assert "kernel/sys.o" in given.stdout, given.stdout
    assert "1 actions" in given.stdout or "1 action" in given.stdout, given.stdout
