"""tools/kthinlto/trees.py: translation keys, reuse markers, pruning."""

import os
import subprocess
import sys

from tools.kthinlto import trees

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_translation_key_follows_every_input_and_nothing_else():
    base = {"source": "extracted:abc/linux", "arch": "x86_64", "kcflags": ""}
    assert trees.translation_key(base) == trees.translation_key(dict(reversed(base.items())))
    for k, v in (("source", "extracted:def/linux"), ("arch", "arm64"), ("kcflags", "-O3")):
        assert trees.translation_key(dict(base, **{k: v})) != trees.translation_key(base)


def test_an_extracted_tree_is_named_by_its_tarball_digest(tmp_path):
    cache = tmp_path / "cache"
    tree = cache / "src" / "4d415b3d364834fd" / "linux-source-6.1"
    tree.mkdir(parents=True)
    assert trees.tree_fingerprint(str(tree), str(cache)) == (
        "extracted:4d415b3d364834fd/linux-source-6.1")


def test_another_tree_is_fingerprinted_by_its_files(tmp_path):
    tree = tmp_path / "linux"
    (tree / "kernel").mkdir(parents=True)
    (tree / "kernel" / "sys.c").write_text("int x;\n")
    first = trees.tree_fingerprint(str(tree), str(tmp_path / "cache"))
    assert first == trees.tree_fingerprint(str(tree), str(tmp_path / "cache"))
    (tree / "kernel" / "sys.c").write_text("int xy;\n")
    assert trees.tree_fingerprint(str(tree), str(tmp_path / "cache")) != first


def test_translator_digest_covers_the_translators_files_and_the_schema():
    assert len(trees.translator_digest()) == 64
    assert os.path.isfile(trees._SCHEMA)


def test_translator_files_are_every_module_a_translation_imports():
    # A fresh interpreter: what importing the translator's CLI loads.
    code = ("import sys, tools.kthinlto.configure; print(' '.join(sorted("
            "m.split('.')[-1] + '.py' for m in sys.modules "
            "if m.startswith('tools.kthinlto.') and m.count('.') == 2)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == sorted(f for f in trees.TRANSLATOR_FILES if f.endswith(".py"))
    for name in trees.TRANSLATOR_FILES:
        assert os.path.isfile(os.path.join(trees._TOOLS, name)), name


def _repository(tmp_path, name, gen):
    """A Bazel kernel repository directory linking to gen's kernel.bzl."""
    repo = tmp_path / name
    repo.mkdir()
    (repo / "kernel.bzl").symlink_to(gen / "kernel.bzl")
    return str(repo)


def _relink(repo, gen):
    os.unlink(os.path.join(repo, "kernel.bzl"))
    os.symlink(gen / "kernel.bzl", os.path.join(repo, "kernel.bzl"))


def test_prune_drops_the_trees_no_repository_links_to(tmp_path):
    cache = tmp_path / "cache"
    used, moved, legacy = (cache / "trees" / n for n in ("used", "moved", "20261130-0101-1"))
    for t in (used, moved, legacy):
        (t / "gen").mkdir(parents=True)
        (t / "gen" / "kernel.bzl").write_text("KERNEL = {}\n")
        trees.mark_complete(str(t))
    trees.record_user(str(used), _repository(tmp_path, "a", used / "gen"))
    repo = _repository(tmp_path, "b", moved / "gen")
    trees.record_user(str(moved), repo)
    trees.record_user(str(moved), repo)   # recorded once
    assert (moved / trees.USERS).read_text().count("\n") == 1
    assert trees.unused(str(cache)) == [str(legacy)]
    # Repository b is fetched again, for the used tree: nothing links to "moved".
    _relink(repo, used / "gen")
    (cache / "trees" / "moved.lock").write_text("")
    assert trees.unused(str(cache)) == [str(legacy), str(moved)]
    assert trees.prune(str(cache)) == [str(legacy), str(moved)]
    assert sorted(os.listdir(cache / "trees")) == ["used"]
