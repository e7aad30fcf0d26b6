"""`./kthin report` with no profile given explains the last build that ran
actions: after a null build (or its own aquery) it says so in one line and
explains the build before (tools/kthinlto/report_main.py keeps it)."""

import os

from tests.e2e import kernels

NOTE = "kthin report: the last command ran no action (a null build, or not a build)"


def _report(ws: kernels.Workspace):
    # The graph of what the builds built (a small aquery).
    return kernels.run([os.path.join(ws.root, "kthin"), "report",
                        f"--bazel=bazel,--output_base={ws.output_base},--max_idle_secs=600",
                        "--targets=@kernel//:kernel/sys.o"], cwd=ws.root)


def test_report_after_a_null_build_says_so_and_explains_the_build_before(default_kernel, tmp_path):
    ws = kernels.new_workspace(str(tmp_path))
    try:
        # A build that runs one action (a new output base, no cache).
        ws.bazel("build", "@kernel//:kernel/sys.o")
        first = _report(ws)
        ws.bazel("build", "@kernel//:kernel/sys.o")     # a null build
        second = _report(ws)
        third = _report(ws)                              # after its own aquery
    finally:
        ws.shutdown()
    assert NOTE not in first.stdout
    assert "kernel/sys.o" in first.stdout, first.stdout
    for later in (second, third):
        lines = later.stdout.splitlines()
        assert lines[0].startswith(NOTE), lines[:3]
        # The same build explained: everything after the build's name.
        assert later.stdout.split("\nbuild: ", 1)[1].split("\n", 1)[1] == \
            first.stdout.split("build: ", 1)[1].split("\n", 1)[1]
