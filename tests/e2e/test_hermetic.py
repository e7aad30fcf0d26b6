"""FE actions see exactly their declared inputs: an undeclared header fails."""

import json
import os
import shutil

from tests.e2e import kernels

# Widely included, and with no namesake elsewhere on the include path (a
# hidden linux/types.h would silently resolve to include/uapi/linux/types.h).
HEADER = "src/include/linux/init.h"


def test_undeclared_header_is_a_sandbox_failure(default_kernel, tmp_path):
    kernel = default_kernel
    # A copy of the translation whose graph no longer declares one header
    # that every C object includes (the tree itself still has it).
    gen = tmp_path / "gen"
    gen.mkdir()
    orig = kernel.ws.gen()
    for name in ("src", "obj"):
        os.symlink(os.path.realpath(os.path.join(orig, name)), gen / name)
    shutil.copy(os.path.join(orig, "BUILD.bazel"), gen / "BUILD.bazel")
    with open(os.path.join(orig, "kernel.bzl")) as f:
        text = f.read()
    head, _, payload = text.partition("KERNEL = ")
    data = json.loads(payload)
    hidden = data["files"].index(HEADER)
    for o in data["objects"]:
        o["inputs"] = [i for i in o["inputs"] if i != hidden]
    (gen / "kernel.bzl").write_text(head + "KERNEL = " + json.dumps(data) + "\n")
    assert os.path.exists(os.path.join(gen, HEADER))

    ws = kernels.new_workspace(str(tmp_path / "ws"))
    with open(os.path.join(ws.root, "kernel_tree.json"), "w") as f:
        json.dump({"gen": str(gen)}, f)
    try:
        proc = ws.bazel("build", "//:vmlinux_o", check=False)
    finally:
        ws.shutdown()
    assert proc.returncode != 0
    assert "'linux/init.h' file not found" in proc.stderr, proc.stderr[-3000:]
