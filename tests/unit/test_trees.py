"""tools/kthinlto/trees.py: translation keys, reuse markers, pruning."""

import json
import os

from tools.kthinlto import trees


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


def _workspace(tmp_path, name, gen):
    ws = tmp_path / name
    ws.mkdir()
    pointer = ws / "kernel_tree.json"
    pointer.write_text(json.dumps({"gen": str(gen)}))
    return str(pointer)


def test_prune_drops_the_trees_no_workspace_points_at(tmp_path):
    cache = tmp_path / "cache"
    used, moved, legacy = (cache / "trees" / n for n in ("used", "moved", "20261130-0101-1"))
    for t in (used, moved, legacy):
        (t / "gen").mkdir(parents=True)
        trees.mark_complete(str(t))
    trees.record_user(str(used), _workspace(tmp_path, "a", used / "gen"))
    pointer = _workspace(tmp_path, "b", moved / "gen")
    trees.record_user(str(moved), pointer)
    trees.record_user(str(moved), pointer)   # recorded once
    assert (moved / trees.USERS).read_text().count("\n") == 1
    # Workspace b moves on to the used tree: nothing points at "moved".
    with open(pointer, "w") as f:
        json.dump({"gen": str(used / "gen")}, f)
    (cache / "trees" / "moved.lock").write_text("")
    assert trees.unused(str(cache)) == [str(legacy), str(moved)]
    assert trees.prune(str(cache)) == [str(legacy), str(moved)]
    assert sorted(os.listdir(cache / "trees")) == ["used"]
