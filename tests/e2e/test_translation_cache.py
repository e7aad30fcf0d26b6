"""Translations are kept by what they depend on (tools/kthinlto/trees.py):
the same inputs reuse one.  (Other inputs make another:
test_hermetic's --kcflags test would see the default kernel's flags if not.)"""

import os

from tests.e2e import kernels
from tools.kthinlto import trees


def test_identical_inputs_reuse_one_translation(default_kernel, tmp_path):
    # Another checkout, the same source, config and flags: the default
    # kernel's translation is used again, not made anew.
    ws = kernels.new_workspace(str(tmp_path))
    proc = ws.configure(*kernels.CONFIGS["default"])
    assert ws.gen() == default_kernel.ws.gen()
    assert "reusing" in proc.stderr and "make tinyconfig" not in proc.stderr
    # Both workspaces are recorded: the translation is not unused.
    tree = os.path.dirname(ws.gen())
    with open(os.path.join(tree, trees.USERS)) as f:
        users = f.read().split()
    assert os.path.join(ws.root, "kernel_tree.json") in users
    assert os.path.join(default_kernel.ws.root, "kernel_tree.json") in users
    assert tree not in trees.unused(kernels.cache_dir())

