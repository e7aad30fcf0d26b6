"""`./kthin menuconfig --set=...` (tools/kthinlto/menuconfig.py) on the real
kernel: Kbuild's scripts/config and olddefconfig on the declared kernel's
.config; the changed option lands in the kernel's own fragment, the
declaration changes by one line, and the next build has the option and
compiles only what the option reaches."""

import os

from tests.e2e import kernels
from tools.kthinlto import execlog

# A library option with its own object and an exported function: in the
# vmlinux.o of the changed kernel, not in the default kernel's.
OPTION, SYMBOL = "CONFIG_CRC_CCITT=y", "crc_ccitt"


def _menuconfig(ws: kernels.Workspace, *flags: str):
    """`./kthin menuconfig FLAGS`, as a user runs it in the checkout."""
    return kernels.run([os.path.join(ws.root, "kthin"), "menuconfig", *flags], cwd=ws.root)


def test_menuconfig_set_changes_one_declaration_line_and_the_build_has_the_option(
        default_kernel, disk_cache, tmp_path):
    assert SYMBOL not in kernels.global_symbols(default_kernel.vmlinux_o)
    ws = kernels.new_workspace(str(tmp_path))
    decl = os.path.join(ws.root, "kernels", "kernel.json")
    fragment = os.path.join(ws.root, "kernels", "kernel.menuconfig.config")
    with open(decl) as f:
        before = f.read().splitlines()
    try:
        proc = _menuconfig(ws, f"--set={OPTION}")
        with open(decl) as f:
            after = f.read().splitlines()
        # One line: the fragments' list, with the kernel's own fragment last.
        assert len(after) == len(before)
        changed = [(a, b) for a, b in zip(before, after) if a != b]
        assert len(changed) == 1, changed
        assert changed[0][1].endswith('"//kernels:kernel.menuconfig.config"]'), changed
        with open(fragment) as f:
            assert OPTION in f.read().splitlines()
        assert "added it to" in proc.stderr
        # Asked again: nothing changes, nothing is written.
        mtimes = os.stat(decl).st_mtime_ns, os.stat(fragment).st_mtime_ns
        again = _menuconfig(ws, f"--set={OPTION}")
        assert "no option changed" in again.stderr
        assert (os.stat(decl).st_mtime_ns, os.stat(fragment).st_mtime_ns) == mtimes
        # The next build translates again and has the option's object.
        log = str(tmp_path / "exec.json")
        ws.bazel("build", "//:vmlinux_o", f"--disk_cache={disk_cache}",
                 f"--execution_log_json_file={log}")
        assert SYMBOL in kernels.global_symbols(ws.vmlinux_o())
        # ... and compiles only what the option reaches (each compile
        # declares its own view of the config header, autoconf.py): the
        # option's own object, not the hundreds whose files never name it.
        entries = execlog.read(log)
        compiles = [e for e in entries if e["mnemonic"] == "ThinLtoCompile"]
        ran = [p for e in execlog.executed(entries, "ThinLtoCompile")
               for p in execlog.outputs(e)]
        print(f"{len(ran)} of {len(compiles)} compiles ran: {ran}")
        assert any(p.endswith("/objects/lib/crc-ccitt.o") for p in ran), ran
        assert len(compiles) > 300 and len(ran) <= len(compiles) // 20, ran
        with open(os.path.join(ws.gen(), "obj", ".config")) as f:
            assert OPTION in f.read().splitlines()
    finally:
        ws.shutdown()
