"""configure.translation_inputs, one input at a time: each thing a
translation depends on changes its key (trees.translation_key), and what it
does not depend on (make's -j, where the cache is, how errors name the
settings) does not."""

import dataclasses
import os
import types

import pytest

from tools.kthinlto import configure, kbuild, trees


@pytest.fixture
def setup(tmp_path, monkeypatch):
    tree = tmp_path / "linux"
    (tree / "kernel").mkdir(parents=True)
    (tree / "kernel" / "sys.c").write_text("int x;\n")
    frag_a, frag_b, config = tmp_path / "a.config", tmp_path / "b.config", tmp_path / "full.config"
    frag_a.write_text("CONFIG_PRINTK=y\n")
    frag_b.write_text("CONFIG_MODULES=y\n")
    config.write_text("CONFIG_64BIT=y\n")
    llvm = {"identity": "/usr/lib/llvm-19/bin/clang: Debian clang version 19.1.7"}
    translator = {"digest": "t" * 64}
    monkeypatch.setattr(trees, "llvm_identity", lambda clang: llvm["identity"])
    monkeypatch.setattr(trees, "translator_digest", lambda: translator["digest"])
    req = configure.Request(
        source=str(tree), sha256=None,
        spec=kbuild.ConfigSpec(target="tinyconfig", config_file="",
                               fragments=(str(frag_a), str(frag_b))),
        arch="x86_64", jobs=2, kcflags="", cache_dir=str(tmp_path / "cache"))
    tc = types.SimpleNamespace(clang="clang-19")

    def key(r=req):
        return trees.translation_key(configure.translation_inputs(r, str(tree), tc))
    return types.SimpleNamespace(req=req, tree=tree, frag_a=frag_a, config=config, llvm=llvm,
                                 translator=translator, key=key, tmp=tmp_path)


def _spec(req, **changes):
    return dataclasses.replace(req, spec=dataclasses.replace(req.spec, **changes))


def test_the_same_inputs_give_the_same_key(setup):
    assert setup.key() == setup.key()
    assert len(setup.key()) == 24


def test_a_fragments_content_changes_the_key(setup):
    before = setup.key()
    setup.frag_a.write_text("CONFIG_PRINTK=n\n")
    assert setup.key() != before


def test_the_fragments_order_changes_the_key(setup):
    # The later fragment decides an option both set.
    assert setup.key(_spec(setup.req, fragments=setup.req.spec.fragments[::-1])) != setup.key()


def test_the_config_file_and_its_content_change_the_key(setup):
    with_file = _spec(setup.req, target="", config_file=str(setup.config))
    assert setup.key(with_file) != setup.key()
    before = setup.key(with_file)
    setup.config.write_text("CONFIG_64BIT=n\n")
    assert setup.key(with_file) != before


def test_the_config_target_changes_the_key(setup):
    assert setup.key(_spec(setup.req, target="defconfig")) != setup.key()


def test_the_arch_changes_the_key(setup):
    assert setup.key(dataclasses.replace(setup.req, arch="arm64")) != setup.key()


def test_kcflags_change_the_key(setup):
    assert setup.key(dataclasses.replace(setup.req, kcflags="-O3")) != setup.key()


def test_the_llvm_changes_the_key(setup):
    before = setup.key()
    setup.llvm["identity"] = "/usr/lib/llvm-19/bin/clang: Debian clang version 19.1.8"
    assert setup.key() != before


def test_the_translator_changes_the_key(setup):
    before = setup.key()
    setup.translator["digest"] = "u" * 64
    assert setup.key() != before


def test_a_source_files_content_changes_the_key(setup):
    before = setup.key()
    (setup.tree / "kernel" / "sys.c").write_text("int xy;\n")
    assert setup.key() != before


def test_jobs_cache_dir_and_error_names_do_not_change_the_key(setup):
    before = setup.key()
    other = dataclasses.replace(setup.req, jobs=64, cache_dir=str(setup.tmp / "elsewhere"),
                                names={"arch": "--arch"})
    assert setup.key(other) == before
    assert os.path.isdir(setup.tree)
