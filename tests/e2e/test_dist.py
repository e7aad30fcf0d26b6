"""`bazel run //:dist -- DIR` (rules/private/dist.bzl): the kernel's results,
as bazel-bin has them, copied into a new or empty directory; anything else
refused in one line with nothing written."""

import filecmp
import os

from tests.e2e import kernels

NAMES = {"vmlinux", "System.map", "bzImage", ".config", "vmlinux.o", "compile_commands.json",
         "modules"}


def _same_tree(a: str, b: str) -> list[str]:
    """Files that differ between two directory trees (or are in one only)."""
    cmp = filecmp.dircmp(a, b)
    out = [os.path.join(a, n) for n in cmp.left_only + cmp.right_only + cmp.funny_files]
    out += [os.path.join(a, n) for n in filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)[1]]
    for sub in cmp.common_dirs:
        out += _same_tree(os.path.join(a, sub), os.path.join(b, sub))
    return out


def test_dist_copies_the_results_as_bazel_bin_has_them(default_kernel, disk_cache, tmp_path):
    ws = default_kernel.ws
    # A relative DIR is where `bazel run` was started (here, the checkout).
    rel = f"dist-{os.getpid()}"
    dist = os.path.join(ws.root, rel)
    try:
        proc = ws.bazel("run", f"--disk_cache={disk_cache}", "//:dist", "--", rel)
        assert set(os.listdir(dist)) == NAMES, os.listdir(dist)
        out = os.path.join(ws.bazel_bin(), "external", "kernel")
        for name, built in (("vmlinux", "image/vmlinux"), ("System.map", "image/System.map"),
                            ("bzImage", "image/bzImage"), ("vmlinux.o", "vmlinux.o")):
            assert kernels.same_bytes(os.path.join(dist, name), os.path.join(out, built)), name
        assert kernels.same_bytes(os.path.join(dist, ".config"),
                                  os.path.join(default_kernel.objtree, ".config"))
        assert kernels.same_bytes(os.path.join(dist, "compile_commands.json"),
                                  os.path.join(default_kernel.gen(), "compile_commands.json"))
        assert _same_tree(os.path.join(dist, "modules"), os.path.join(out, "modules", "install")) == []
        assert os.path.isfile(os.path.join(dist, "modules", "lib", "modules", os.listdir(
            os.path.join(dist, "modules", "lib", "modules"))[0], "kernel", "fs", "fuse", "fuse.ko"))
        assert f"in {dist}" in proc.stderr + proc.stdout
    finally:
        kernels.run(["rm", "-rf", dist])


def test_dist_refuses_a_directory_that_is_not_empty(default_kernel, disk_cache, tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "mine").write_text("keep me")
    proc = default_kernel.ws.bazel("run", f"--disk_cache={disk_cache}", "//:dist", "--",
                                   str(dist), check=False)
    assert proc.returncode != 0
    assert f"kthinlto dist: {dist} is not an empty directory; give a new or empty one" \
        in proc.stderr, proc.stderr[-2000:]
    # Nothing written, nothing left beside it.
    assert os.listdir(dist) == ["mine"] and (dist / "mine").read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == ["dist"]


def _mounted_tmpfs(path, options: str):
    path.mkdir()
    kernels.run(["mount", "-t", "tmpfs", "-o", options, "kthinlto-dist-test", str(path)])


def test_dist_to_a_directory_it_cannot_write_says_so_and_leaves_nothing(default_kernel,
                                                                        disk_cache, tmp_path):
    # As root, permissions do not stop a write: a read-only file system
    # does, and one too small for the kernel fails half-way through.
    read_only, small = tmp_path / "read-only", tmp_path / "small"
    _mounted_tmpfs(read_only, "ro,size=1m")
    _mounted_tmpfs(small, "size=256k")
    try:
        procs = {where: default_kernel.ws.bazel(
            "run", f"--disk_cache={disk_cache}", "//:dist", "--", str(where / "dist"),
            check=False) for where in (read_only, small)}
        left = {where: os.listdir(where) for where in procs}
    finally:
        for where in (read_only, small):
            kernels.run(["umount", str(where)], check=False)
    for where, proc in procs.items():
        assert proc.returncode == 1, (where, proc.stderr[-2000:])
        said = [line for line in proc.stderr.splitlines() if "kthinlto dist:" in line or
                line.startswith(("cp:", "mkdir:", "mktemp:"))]
        assert len(said) == 1, said
        assert left[where] == [], left        # no DIR, no copy half-made beside it
    assert procs[read_only].stderr.count(
        f"kthinlto dist: cannot write in {read_only}; give a directory you can write") == 1
    assert "No space left on device" in procs[small].stderr
    assert f"nothing written to {small / 'dist'}" in procs[small].stderr
