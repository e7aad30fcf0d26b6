"""tests/e2e/kernels.reference_key: Kbuild's reference builds are cached by
what they are built from (tree content, .config, compiler), not by path."""

import os

from tests.e2e import kernels


def _tree(root, text="int x;\n"):
    os.makedirs(os.path.join(root, "kernel"))
    with open(os.path.join(root, "kernel", "sys.c"), "w") as f:
        f.write(text)
    with open(os.path.join(root, "Makefile"), "w") as f:
        f.write("all:\n")
    os.symlink("kernel/sys.c", os.path.join(root, "link.c"))
    return root


def test_the_same_tree_at_two_paths_has_one_digest(tmp_path):
    a = kernels.tree_digest(_tree(str(tmp_path / "a")))
    b = kernels.tree_digest(_tree(str(tmp_path / "elsewhere" / "b")))
    assert a == b


def test_a_changed_byte_a_new_file_or_another_link_target_changes_the_digest(tmp_path):
    base = kernels.tree_digest(_tree(str(tmp_path / "base")))
    edited = kernels.tree_digest(_tree(str(tmp_path / "edited"), "int y;\n"))
    added = _tree(str(tmp_path / "added"))
    open(os.path.join(added, "kernel", "new.c"), "w").close()
    relinked = _tree(str(tmp_path / "relinked"))
    os.remove(os.path.join(relinked, "link.c"))
    os.symlink("Makefile", os.path.join(relinked, "link.c"))
    digests = [base, edited, kernels.tree_digest(added), kernels.tree_digest(relinked)]
    assert len(set(digests)) == 4, digests


def test_key_changes_with_tree_config_and_compiler_only():
    key = kernels.reference_key("t1", b"CONFIG_A=y\n", "clang version 19.1.7")
    assert key == kernels.reference_key("t1", b"CONFIG_A=y\n", "clang version 19.1.7")
    others = [kernels.reference_key("t2", b"CONFIG_A=y\n", "clang version 19.1.7"),
              kernels.reference_key("t1", b"CONFIG_A=m\n", "clang version 19.1.7"),
              kernels.reference_key("t1", b"CONFIG_A=y\n", "clang version 19.1.8")]
    assert key not in others and len(set(others)) == 3
