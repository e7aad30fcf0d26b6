"""The ruleset as a dependency: e2e/ is a workspace of its own (WORKSPACE,
and MODULE.bazel for bzlmod) that loads @kthinlto, declares a kernel and
builds it, as a user's repository would."""

import filecmp
import os

from tests.e2e import kernels


def test_a_workspace_using_the_ruleset_builds_its_declared_kernel(default_kernel, disk_cache,
                                                                  tmp_path):
    checkout = kernels.new_workspace(str(tmp_path))
    ws = kernels.Workspace(os.path.join(checkout.root, "e2e"), str(tmp_path / "e2e_output_base"))
    try:
        ws.bazel("build", "//:vmlinux_o", f"--disk_cache={disk_cache}")
        out = ws.bazel("info", "bazel-bin").stdout.strip()
        # Its declaration is the default kernel's: the same translation, and
        # (the build being reproducible) the same vmlinux.o.
        assert ws.gen() == default_kernel.gen()
        # None of the ruleset's own test kernels was fetched.
        external = os.listdir(os.path.join(ws.output_base, "external"))
    finally:
        ws.shutdown()
    assert not {"kernel_6_12", "kernel_arm64"} & set(external), sorted(external)
    assert filecmp.cmp(os.path.join(out, "external/kernel/vmlinux.o"),
                       default_kernel.vmlinux_o, shallow=False)
