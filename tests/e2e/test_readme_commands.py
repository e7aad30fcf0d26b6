"""The README's commands as a user types them, in a fresh checkout:
`./kthin build`, `./kthin compile-commands` and `./kthin boot` (the
others: test_dist.py, test_one_object.py, test_menuconfig.py,
test_report_last_build.py, `./kthin configure` in test_bad_input.py and
every test that declares a kernel; `./kthin test` is CI itself)."""

import json
import os

from tests.e2e import kernels


def test_kthin_build_compile_commands_and_boot_in_a_fresh_checkout(default_kernel, disk_cache,
                                                                  tmp_path):
    ws = kernels.new_workspace(str(tmp_path))
    # ./kthin build takes Bazel's flags, not its startup options: the
    # output base comes from the checkout's user.bazelrc, as a user could.
    with open(os.path.join(ws.root, "user.bazelrc"), "w") as f:
        f.write(f"startup --output_base={ws.output_base}\n")
    kthin = os.path.join(ws.root, "kthin")
    try:
        built = kernels.run([kthin, "build", f"--disk_cache={disk_cache}"], cwd=ws.root)
        vmlinux_o = ws.vmlinux_o()
        commands = kernels.run([kthin, "compile-commands"], cwd=ws.root)
        # Everything the default kernel has, by the documented pattern
        # (docs/usage.md: //:all, as `//...` descends into Bazel 4.2.3's
        # bazel-<dir> link).
        everything = ws.bazel("build", "//:all", f"--disk_cache={disk_cache}")
        # The boot image and the modules (from the cache), booted in QEMU.
        booted = kernels.run([kthin, "boot", f"--disk_cache={disk_cache}"], cwd=ws.root,
                             check=False)
    finally:
        ws.shutdown()
    assert "Build completed successfully" in built.stderr, built.stderr[-2000:]
    assert kernels.same_bytes(vmlinux_o, default_kernel.vmlinux_o)
    with open(os.path.join(ws.root, "compile_commands.json")) as f:
        entries = json.load(f)
    with open(os.path.join(default_kernel.gen(), "compile_commands.json")) as f:
        assert entries == json.load(f)
    assert any(e["file"].endswith("/kernel/sys.c") for e in entries)
    assert "wrote compile_commands.json" in commands.stderr
    assert booted.returncode == 0, booted.stdout[-3000:] + booted.stderr[-3000:]
    assert "kthinlto: booted: marker KTHINLTO-BOOTED-" in booted.stdout, booted.stdout[-3000:]
    assert "Build completed successfully" in everything.stderr, everything.stderr[-2000:]
