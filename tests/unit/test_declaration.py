"""tools/kthinlto/declaration.py: the checked-in kernel declaration."""

import json
import os

import pytest

from tools.kthinlto import declaration
from tools.kthinlto.records import TranslationError


def write(tmp_path, data) -> str:
    path = tmp_path / "kernel.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_read_gives_the_fields_with_defaults(tmp_path):
    decl = declaration.read(write(tmp_path, {"source": "linux-source-6.12", "arch": "arm64",
                                             "fragments": ["//kernels:a.config"]}))
    assert decl == declaration.Declaration(source="linux-source-6.12", arch="arm64",
                                           fragments=("//kernels:a.config",))


@pytest.mark.parametrize("data, says", [
    ("{", "not JSON"),
    ("[]", "must be a JSON object"),
    ({"arch": "x86_64"}, "field 'source' is required"),
    ({"source": "s", "arhc": "x"}, "unknown field 'arhc'"),
    ({"source": "s", "fragments": "a.config"}, "field 'fragments' must be a list of strings"),
    ({"source": "s", "kcflags": 3}, "field 'kcflags' must be a string"),
    ({"source": "s", "config": "tinyconfig", "config_file": "//k:a"}, "exclude each other"),
])
def test_bad_declaration_is_one_error_naming_file_and_field(tmp_path, data, says):
    path = write(tmp_path, data)
    with pytest.raises(TranslationError) as e:
        declaration.read(path)
    assert str(e.value).startswith(path + ": ") and says in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_declaration_says_how_to_write_one(tmp_path):
    with pytest.raises(TranslationError, match="no such declaration; write it with ./kthin configure"):
        declaration.read(str(tmp_path / "nope.json"))


def test_written_declaration_reads_back_with_source_arch_and_the_non_defaults(tmp_path):
    decl = declaration.Declaration(source="linux-source-6.1", config="tinyconfig",
                                   fragments=("@kthinlto//configs:bootable.config",))
    path = str(tmp_path / "kernels" / "k.json")
    declaration.write(path, decl)
    assert declaration.read(path) == decl
    assert set(json.loads(open(path).read())) == {"source", "arch", "config", "fragments"}
    assert os.listdir(tmp_path / "kernels") == ["k.json"]   # no temporary left


def test_labels_resolve_to_the_workspace_or_the_ruleset(tmp_path):
    ws = str(tmp_path)
    assert declaration.resolve("//kernels:a.config", ws, "fragments") == f"{ws}/kernels/a.config"
    assert declaration.resolve("@//kernels:a.config", ws, "fragments") == f"{ws}/kernels/a.config"
    assert declaration.resolve("@kthinlto//configs:bootable.config", ws, "fragments") == \
        os.path.join(declaration.RULESET, "configs", "bootable.config")
    assert declaration.resolve("../linux", ws, "source") == os.path.normpath(f"{ws}/../linux")
    with pytest.raises(TranslationError, match=r"fragments=@other//x:y: labels name this workspace"):
        declaration.resolve("@other//x:y", ws, "fragments")


def test_watched_labels_are_the_declarations_labels_made_canonical():
    decl = declaration.Declaration(source="/abs/linux", config_file="//kernels:k.config",
                                   fragments=("@kthinlto//configs:bootable.config", "/abs/f"))
    assert declaration.watched_labels(decl) == [
        "@//kernels:k.config", "@kthinlto//configs:bootable.config"]


def test_the_arch_default_fragment_is_a_label_of_an_existing_file():
    label = declaration.default_fragment("arm64")
    assert label == "@kthinlto//configs:bootable-arm64.config"
    assert os.path.isfile(declaration.resolve(label, "/nonexistent", "fragments"))
    assert declaration.default_fragment("riscv") == ""


def test_register_declares_a_new_repository_once(tmp_path):
    (tmp_path / "WORKSPACE").write_text('workspace(name = "mine")\n')
    (tmp_path / "MODULE.bazel").write_text(
        'kthinlto = use_extension("@kthinlto//rules:extensions.bzl", "kthinlto")\n')
    changed = declaration.register(str(tmp_path), "kernel_arm64")
    assert sorted(os.path.basename(c) for c in changed) == ["BUILD.bazel", "MODULE.bazel", "WORKSPACE"]
    assert declaration.register(str(tmp_path), "kernel_arm64") == []
    ws = (tmp_path / "WORKSPACE").read_text()
    assert 'kthinlto_kernel(\n    name = "kernel_arm64",\n    declaration = "//kernels:kernel_arm64.json",\n)' in ws
    assert 'use_repo(kthinlto, "kernel_arm64")' in (tmp_path / "MODULE.bazel").read_text()


def test_register_in_the_ruleset_itself_declares_a_dev_dependency(tmp_path):
    (tmp_path / "MODULE.bazel").write_text(
        'kthinlto_dev = use_extension("//rules:extensions.bzl", "kthinlto", dev_dependency = True)\n')
    declaration.register(str(tmp_path), "mine")
    assert 'kthinlto_dev.kernel(\n    name = "mine",' in (tmp_path / "MODULE.bazel").read_text()
    assert 'use_repo(kthinlto_dev, "mine")' in (tmp_path / "MODULE.bazel").read_text()


def test_names_must_be_repository_names():
    declaration.check_name("kernel_arm64")
    with pytest.raises(TranslationError, match="--name=my-kernel: a kernel's name"):
        declaration.check_name("my-kernel")
