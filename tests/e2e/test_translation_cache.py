"""Translations are kept by what they depend on (tools/kthinlto/trees.py):
the same declaration reuses one, from any checkout and output base, and a
changed declaration is translated again by Bazel itself."""

import json
import os

from tests.e2e import kernels
from tools.kthinlto import trees


def test_identical_declaration_reuses_one_translation(default_kernel, tmp_path):
    # Another checkout and output base, the same kernels/kernel.json: Bazel's
    # repository rule finds the default kernel's translation, makes none.
    ws = kernels.new_workspace(str(tmp_path))
    try:
        proc = ws.fetch()
        assert ws.gen() == default_kernel.gen()
    finally:
        ws.shutdown()
    assert "reusing" in proc.stderr and "make tinyconfig" not in proc.stderr
    # One translator run per fetch: no restart of the repository rule runs
    # it again (each run logs "reusing" once).
    assert proc.stderr.count("reusing") == 1, proc.stderr
    # Both repositories are recorded: the translation is not unused.
    tree = os.path.dirname(ws.gen())
    with open(os.path.join(tree, trees.USERS)) as f:
        users = f.read().split()
    for w in (ws, default_kernel.ws):
        assert os.path.join(w.output_base, "external", "kernel") in users
    assert tree not in trees.unused(kernels.cache_dir())


def test_changed_declaration_is_translated_again_by_bazel(default_kernel, tmp_path):
    # Editing the checked-in declaration is all it takes: the next `bazel
    # build` (here a query, which fetches too) translates the new kernel.
    ws = kernels.new_workspace(str(tmp_path))
    try:
        ws.fetch()
        assert ws.gen() == default_kernel.gen()
        path = os.path.join(ws.root, "kernels", "kernel.json")
        with open(path) as f:
            data = json.load(f)
        # test_hermetic's --kcflags kernel: whichever test runs first
        # translates it, the other reuses it.
        data["kcflags"] = "-DKTHINLTO_FROM_FLAG"
        with open(path, "w") as f:
            json.dump(data, f)
        proc = ws.fetch()
        assert "configure.py" in proc.stderr   # the translator ran again
        assert ws.gen() != default_kernel.gen()
        assert ws.kernel_data()["config"]["kcflags"] == "-DKTHINLTO_FROM_FLAG"
    finally:
        ws.shutdown()
