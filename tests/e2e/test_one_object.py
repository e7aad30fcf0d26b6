"""One object as a target, as `make kernel/sys.o`: @kernel//:kernel/sys.o
builds that object's FE compile and nothing else (rules/private/link_units.bzl);
a name the kernel does not have gets Bazel's "no such target", with the
nearest object's name."""

import os

from tests.e2e import kernels
from tools.kthinlto import execlog


def test_one_object_target_runs_its_compile_alone(default_kernel, tmp_path):
    # A new output base and no cache: whatever the target asks for runs.
    ws = kernels.new_workspace(str(tmp_path))
    log = str(tmp_path / "exec.json")
    try:
        _, entries = kernels.build_logged(ws, log, target="@kernel//:kernel/sys.o")
        out = os.path.join(ws.bazel_bin(), "external", "kernel", "objects", "kernel", "sys.o")
        with open(out, "rb") as f:
            head = f.read(4)
        missing = ws.bazel("build", "@kernel//:kernel/sys.c.o", check=False)
    finally:
        ws.shutdown()
    # Exactly one action, the compile of kernel/sys.c to bitcode.
    assert [e["mnemonic"] for e in entries] == ["ThinLtoCompile"], execlog.figures(entries)
    (written,) = execlog.outputs(entries[0])
    assert written.endswith("/external/kernel/objects/kernel/sys.o"), written
    assert head == b"BC\xc0\xde", head  # LLVM bitcode
    # An object the kernel does not have: Bazel's own answer, naming it and
    # the nearest object the kernel has.
    assert missing.returncode != 0
    assert "no such target '@kernel//:kernel/sys.c.o'" in missing.stderr, missing.stderr[-2000:]
    assert "(did you mean 'kernel/sys.o'?)" in missing.stderr, missing.stderr[-2000:]
