"""tests/e2e/kernels.reference_key: Kbuild's reference builds are cached by
what they are built from (tree content, .config, compiler) and how (make's
arguments and goals, Kbuild's environment), not by path."""

import json
import os

from tests.e2e import kernels
from tools.kthinlto import kbuild


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


RECIPE = kernels.reference_recipe("x86_64", ["bzImage"], kbuild.Toolchain())


def test_key_changes_with_tree_config_compiler_and_recipe_only():
    key = kernels.reference_key("t1", b"CONFIG_A=y\n", "clang version 19.1.7", RECIPE)
    assert key == kernels.reference_key("t1", b"CONFIG_A=y\n", "clang version 19.1.7", RECIPE)
    others = [kernels.reference_key("t2", b"CONFIG_A=y\n", "clang version 19.1.7", RECIPE),
              kernels.reference_key("t1", b"CONFIG_A=m\n", "clang version 19.1.7", RECIPE),
              kernels.reference_key("t1", b"CONFIG_A=y\n", "clang version 19.1.8", RECIPE),
              kernels.reference_key("t1", b"CONFIG_A=y\n", "clang version 19.1.7",
                                    kernels.reference_recipe("x86_64", ["bzImage", "modules"],
                                                             kbuild.Toolchain()))]
    assert key not in others and len(set(others)) == 4


def test_the_recipe_names_make_goals_and_kbuilds_environment_but_no_path(monkeypatch):
    recipe = json.loads(RECIPE)
    assert recipe["make"] == ["make", "-C", "$SRC", "O=$OBJ", "ARCH=x86_64",
                              f"LLVM=-{kbuild.LLVM_VERSION}"]
    assert recipe["goals"] == ["bzImage"]
    assert recipe["env"]["KBUILD_BUILD_TIMESTAMP"] == kbuild.PINNED_BUILD_ENV[
        "KBUILD_BUILD_TIMESTAMP"]
    # The user's environment neither reaches the recipe nor changes it.
    monkeypatch.setenv("KCFLAGS", "-O3")
    monkeypatch.setenv("HOME", "/elsewhere")
    assert kernels.reference_recipe("x86_64", ["bzImage"], kbuild.Toolchain()) == RECIPE
    assert "/" not in "".join(recipe["make"]).replace("$SRC", "").replace("$OBJ", "")
