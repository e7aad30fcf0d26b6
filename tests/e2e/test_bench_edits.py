"""bench/modules.py's edits against the pinned source the bench builds."""

import os

from bench import modules
from tools.kthinlto import source


def test_the_edits_apply_once_to_the_pinned_source():
    tree = source.pinned_tree(source.read_pins()[0], source.default_cache_dir())
    for e in (modules.KERNEL_EDIT, modules.MODULE_EDIT):
        with open(os.path.join(tree, e.file)) as f:
            text = f.read()
        assert modules.edited(modules.edited(text, e), e, undo=True) == text
    assert modules.MODULE_EDIT.module == "fs/fuse/fuse.ko"
    assert modules.KERNEL_EDIT.module == ""
