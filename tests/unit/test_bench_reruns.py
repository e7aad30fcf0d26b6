"""bench/reruns.py: how the bench tells which BE actions an edit re-ran."""

import os

from bench import reruns as compare


def test_backend_output_is_named_after_the_bundle():
    bundle = "/x/bazel-out/k8-fastbuild/bin/external/kernel/vmlinux_o_thin_link/kernel/sys.o.thinlto.tar"
    assert compare.backend_output(bundle) == (
        "/x/bazel-out/k8-fastbuild/bin/external/kernel/vmlinux_o_be/kernel/sys.o")


def test_rewritten_names_new_and_missing_outputs_only():
    before = {"a.o": (1, 10), "b.o": (2, 20), "c.o": (3, 30), "d.o": None}
    after = {"a.o": (1, 10), "b.o": (4, 20), "c.o": (3, 31), "d.o": None}
    # b.o is a new file (inode), c.o was rewritten in place (mtime); d.o is
    # still missing, which is no evidence of a run, but never a cache hit.
    assert compare.rewritten(before, after) == ["b.o", "c.o", "d.o"]


def test_stamps_change_when_bazel_replaces_an_output(tmp_path):
    thin = tmp_path / "vmlinux_o_thin_link" / "kernel"
    be = tmp_path / "vmlinux_o_be" / "kernel"
    thin.mkdir(parents=True)
    be.mkdir(parents=True)
    bundles = {m: str(thin / f"{m}.thinlto.tar") for m in ("sys.o", "fork.o")}
    bundles = {f"kernel/{m}": p for m, p in bundles.items()}
    for m in ("sys.o", "fork.o"):
        (be / m).write_bytes(b"old")
    first = compare.stamps(bundles)
    # As Bazel runs an action: the output is deleted, then written anew.
    os.unlink(be / "sys.o")
    (be / "sys.o.tmp").write_bytes(b"new")
    os.rename(be / "sys.o.tmp", be / "sys.o")
    assert compare.rewritten(first, compare.stamps(bundles)) == ["kernel/sys.o"]
