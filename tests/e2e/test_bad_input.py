"""Bad input: one clear line naming the file or setting, nothing half-written."""

import json
import os
import subprocess
import sys

import pytest

from tests.e2e import kernels
from tools.kthinlto.kbuild import Toolchain


@pytest.fixture
def ws(tmp_path):
    return kernels.new_workspace(str(tmp_path))


def error_line(proc) -> str:
    lines = [l for l in proc.stderr.splitlines() if l.startswith("kthinlto: error:")]
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert lines, proc.stderr[-2000:]
    return lines[0]


def test_not_a_kernel_tree_is_named(ws, tmp_path):
    (tmp_path / "notakernel").mkdir()
    proc = ws.configure(f"--source={tmp_path / 'notakernel'}", check=False)
    line = error_line(proc)
    assert str(tmp_path / "notakernel") in line and "--source" in line


def test_missing_clang_is_named(ws):
    env = dict(os.environ, PATH="/nonexistent")
    proc = subprocess.run([sys.executable, "-m", "tools.kthinlto.configure",
                           f"--workspace={ws.root}"], cwd=ws.root, env=env,
                          capture_output=True, text=True)
    assert f"{Toolchain().clang} not found" in error_line(proc)


def test_architecture_without_thinlto_is_refused(ws):
    # Linux 6.1 supports Clang ThinLTO on x86 and arm64 only.
    proc = ws.configure("--arch=riscv", check=False)
    line = error_line(proc)
    assert "CONFIG_LTO_CLANG_THIN" in line and ".config" in line


@pytest.fixture
def broken_tree(tmp_path) -> str:
    """The pinned 6.1 tree, its tinyconfig target made to fail."""
    copy = kernels.private_source(str(tmp_path / "linux"))
    kernels.edit(copy, "scripts/kconfig/Makefile", "\ntinyconfig:\n",
                 "\ntinyconfig:\n\t@echo kthinlto: broken on purpose; false\n")
    return copy


def test_failing_kbuild_step_shows_command_and_output(ws, broken_tree):
    proc = ws.configure(f"--source={broken_tree}", "--config=tinyconfig", check=False)
    line = error_line(proc)
    assert "make tinyconfig" in line
    assert "command: make -C" in proc.stderr and "last lines:" in proc.stderr
    assert "kthinlto: broken on purpose" in proc.stderr


def test_unknown_config_target_is_one_line_listing_the_targets(ws):
    proc = ws.configure("--config=nosuch_defconfig", check=False)
    line = error_line(proc)
    assert "--config=nosuch_defconfig: no such config target" in line
    assert "x86_64_defconfig" in line and "tinyconfig" in line and "kvm_guest.config" in line
    assert "make " not in proc.stderr  # refused before any Kbuild step


def declared(ws) -> str:
    """The workspace's default declaration, as it is now."""
    with open(os.path.join(ws.root, "kernels", "kernel.json")) as f:
        return f.read()


def test_a_config_file_that_is_no_kernel_config_is_refused(ws):
    before = declared(ws)
    proc = ws.configure("--config_file=/etc/hostname", check=False)
    line = error_line(proc)
    assert "--config_file=/etc/hostname: not a kernel config" in line
    assert declared(ws) == before
    assert not os.path.exists(os.path.join(ws.root, "kernels", "kernel..config"))


def test_jobs_below_one_is_refused_before_anything_runs(ws):
    proc = ws.configure("--jobs=0", check=False)
    assert error_line(proc) == "kthinlto: error: --jobs=0: must be 1 or more"
    assert "usage" not in proc.stderr.lower()


def test_failed_translation_leaves_previous_output(ws, broken_tree):
    before = declared(ws)
    trees = os.path.join(kernels.cache_dir(), "trees")
    before_trees = set(os.listdir(trees)) if os.path.isdir(trees) else set()
    proc = ws.configure(f"--source={broken_tree}", "--config=tinyconfig", check=False)
    assert proc.returncode == 1
    assert declared(ws) == before
    after = set(os.listdir(trees)) if os.path.isdir(trees) else set()
    assert after == before_trees, "a failed translation left files behind"


def test_deleted_source_fails_build_naming_it(tmp_path):
    """After translation, a deleted source makes the build fail naming it."""
    # A hard-linked copy of the pinned default tree: deleting in it leaves
    # the shared tree intact.
    copy = tmp_path / "linux"
    kernels.private_source(str(copy))
    ws = kernels.new_workspace(str(tmp_path / "ws"))
    ws.configure(f"--source={copy}")
    ws.fetch()   # Bazel has the translation (a later fetch would translate anew)
    victim = copy / "include/linux/compiler_types.h"
    victim.unlink()
    try:
        proc = ws.bazel("build", "//:vmlinux_o", check=False)
    finally:
        ws.shutdown()
    assert proc.returncode != 0
    assert "src/include/linux/compiler_types.h" in proc.stderr
    assert "missing input file" in proc.stderr


def test_x86_only_options_in_an_arm64_fragment_are_named(ws, tmp_path):
    # CONFIG_EARLY_PRINTK and CONFIG_X86_X2APIC are x86's: Kbuild drops them
    # for arm64, the translation says so.
    fragment = tmp_path / "x86.config"
    fragment.write_text("CONFIG_PRINTK=y\nCONFIG_EARLY_PRINTK=y\nCONFIG_X86_X2APIC=y\n")
    proc = ws.configure("--source=linux-source-6.12", "--arch=arm64",
                        f"--fragment={fragment}", check=False)
    line = error_line(proc)
    assert f"{fragment}: " in line and "ARCH=arm64" in line
    assert "CONFIG_EARLY_PRINTK=y" in line and "CONFIG_X86_X2APIC=y" in line
    assert "CONFIG_PRINTK=y" not in line  # arm64 has that one
    assert not os.path.exists(os.path.join(ws.root, "kernels", "kernel.json.x86.config"))


def test_module_signing_is_refused_at_translation_naming_the_option(ws, tmp_path):
    # Kbuild signs modules at modules_install, which kthinlto does not run.
    fragment = tmp_path / "sign.config"
    fragment.write_text("CONFIG_MODULES=y\nCONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_ALL=y\n"
                        "CONFIG_TEST_LKM=m\n")
    proc = ws.configure(f"--fragment={fragment}", check=False)
    line = error_line(proc)
    assert "CONFIG_MODULE_SIG_ALL is set" in line and "# CONFIG_MODULE_SIG_ALL is not set" in line
    assert not os.path.exists(os.path.join(ws.root, "kernels", "kernel.json.sign.config"))


def test_kernel_without_the_vmlinux_o_target_is_refused_naming_it(ws, tmp_path):
    # A kernel older than the translator understands (vmlinux_o came in
    # 5.19): the real 6.1 tree with that target taken out of its Makefile.
    copy = kernels.private_source(str(tmp_path / "linux"))
    kernels.edit(copy, "Makefile", "\nvmlinux_o: ", "\nvmlinux_o_gone: ")
    proc = ws.configure(f"--source={copy}", check=False)
    line = error_line(proc)
    assert f"{copy}/Makefile: Linux 6.1 has no `vmlinux_o` target" in line
    assert "make tinyconfig" not in proc.stderr  # refused before any Kbuild step


# A declaration (kernels/kernel.json) that Bazel's repository rule refuses:
# field -> (value, what the one line says).  Each is refused before any
# Kbuild step runs.
BAD_DECLARATIONS = [
    ({"source": "/nonexistent/linux"}, "source", "/nonexistent/linux: no such kernel tree"),
    ({"source": "linux-source-6.1", "arch": "nosuch"}, "arch", "arch=nosuch: no such architecture"),
    ({"source": "linux-source-6.1", "config": "nosuch_defconfig"}, "config",
     "config=nosuch_defconfig: no such config target"),
    ({"source": "linux-source-6.1", "fragments": ["//kernels:nosuch.config"]}, "fragments",
     "fragments=/"),
    ({"source": "linux-source-6.1", "arhc": "x86_64"}, "arhc", "unknown field 'arhc'"),
]


def test_bad_declarations_fail_the_build_in_one_line_naming_file_and_field(ws):
    path = os.path.join(ws.root, "kernels", "kernel.json")
    try:
        for data, field, says in BAD_DECLARATIONS:
            with open(path, "w") as f:
                json.dump(data, f)
            proc = ws.bazel("build", "//:vmlinux_o", check=False)
            assert proc.returncode != 0, field
            lines = [l for l in proc.stderr.splitlines()
                     if l.startswith("kthinlto: error: kernels/kernel.json: ")]
            assert lines and says in lines[0], (field, proc.stderr[-3000:])
            assert "make " not in proc.stderr, field   # before any Kbuild step
    finally:
        ws.shutdown()


def test_tarball_digest_mismatch_is_refused_naming_the_declaration(ws, tmp_path):
    tarball = tmp_path / "linux.tar.xz"
    tarball.write_bytes(b"not the kernel")
    path = os.path.join(ws.root, "kernels", "kernel.json")
    with open(path, "w") as f:
        json.dump({"source": str(tarball), "sha256": "0" * 64}, f)
    try:
        proc = ws.bazel("build", "//:vmlinux_o", check=False)
    finally:
        ws.shutdown()
    lines = [l for l in proc.stderr.splitlines()
             if l.startswith("kthinlto: error: kernels/kernel.json: ")]
    assert lines and "sha256" in lines[0] and str(tarball) in lines[0], proc.stderr[-3000:]


# A line of FUSE's control file system, in the module fs/fuse/fuse.ko.
MODULE_FILE = "fs/fuse/control.c"
MODULE_LINE = '\tsize = sprintf(tmp, "%ld\\n", (long)file->private_data);'


def test_module_object_that_fails_to_compile_names_module_and_object(tmp_path, disk_cache):
    source = kernels.private_source(str(tmp_path / "linux"))
    kernels.edit(source, MODULE_FILE, MODULE_LINE, MODULE_LINE + " kthinlto_not_c")
    ws = kernels.new_workspace(str(tmp_path / "ws"))
    try:
        ws.configure(f"--source={source}")
        proc = ws.bazel("build", "//:modules", f"--disk_cache={disk_cache}", check=False)
    finally:
        ws.shutdown()
    assert proc.returncode != 0
    lines = [l for l in proc.stderr.splitlines() if l.startswith("ERROR:") and MODULE_FILE in l]
    assert lines, proc.stderr[-3000:]
    assert "for module fs/fuse/fuse.ko failed" in lines[0], lines[0]


def test_module_needing_a_symbol_vmlinux_does_not_export_fails_in_modpost(
        tmp_path, disk_cache):
    source = kernels.private_source(str(tmp_path / "linux"))
    ws = kernels.new_workspace(str(tmp_path / "ws"))
    try:
        ws.configure(f"--source={source}")
        ws.bazel("build", "//:modules", f"--disk_cache={disk_cache}")
        out = os.path.join(ws.bazel("info", "bazel-bin").stdout.strip(), "external/kernel/modules")
        assert os.path.isfile(os.path.join(out, "fs/fuse/fuse.ko"))
        before = _files(out)
        kernels.edit(source, MODULE_FILE, MODULE_LINE,
                     "\t{ extern void kthinlto_not_exported(void); kthinlto_not_exported(); }\n"
                     + MODULE_LINE)
        ws.configure(f"--source={source}")
        proc = ws.bazel("build", "//:modules", f"--disk_cache={disk_cache}", check=False)
    finally:
        ws.shutdown()
    assert proc.returncode != 0
    # Kbuild's own modpost message, in the action's output.
    assert ('ERROR: modpost: "kthinlto_not_exported" [fs/fuse/fuse.ko] undefined!'
            in proc.stderr), proc.stderr[-3000:]
    # Nothing of the failed step is left: Bazel removed modpost's outputs
    # (Module.symvers, each .mod.c) before running it, and no .ko was
    # linked.  What is left is the build before's, unchanged (Bazel leaves
    # the outputs of the actions it did not run).
    after = _files(out)
    assert not [p for p in after if p == "Module.symvers" or p.endswith(".mod.c")], sorted(after)
    assert [p for p in after if after[p] != before.get(p)] == []


def _files(top: str) -> dict[str, bytes]:
    """Every file under top (relative path -> its bytes)."""
    result = {}
    for d, _, files in os.walk(top):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                result[os.path.relpath(os.path.join(d, f), top)] = fh.read()
    return result
