"""tools/kthinlto/configure.py: source tree checks, tarball unpacking, publishing."""

import hashlib
import io
import os
import tarfile

import pytest

from tools.kthinlto import configure, declaration
from tools.kthinlto.records import TranslationError

KERNEL_FILES = ("Makefile", "Kbuild", "scripts/Makefile.build",
                "scripts/generate_initcall_order.pl", "arch/x86/Kconfig")


def make_kernel_tree(root):
    for rel in KERNEL_FILES:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {rel}\n")
    (root / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 1\n\nvmlinux_o: vmlinux.a\n")
    return root


def make_tarball(path, files):
    """A .tar.xz holding files {name: text}; returns its sha256."""
    with tarfile.open(path, "w:xz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


# check_kernel_tree

def test_check_kernel_tree_accepts_a_kernel_tree(tmp_path):
    tree = make_kernel_tree(tmp_path / "linux")
    assert configure.check_kernel_tree(str(tree), "x86_64") is None


def test_check_kernel_tree_rejects_other_directory_naming_it(tmp_path):
    other = tmp_path / "not-a-kernel"
    other.mkdir()
    (other / "Makefile").write_text("all:\n")
    with pytest.raises(TranslationError) as e:
        configure.check_kernel_tree(str(other), "x86_64")
    assert str(other) in str(e.value)
    assert "Kbuild missing" in str(e.value)


def test_check_kernel_tree_rejects_tree_without_the_arch(tmp_path):
    tree = make_kernel_tree(tmp_path / "linux")
    with pytest.raises(TranslationError, match=r"--arch=arm64: no such architecture .* \(no arch/arm64\); it has: x86"):
        configure.check_kernel_tree(str(tree), "arm64")


def test_check_kernel_tree_rejects_a_kernel_without_vmlinux_o_naming_its_version(tmp_path):
    tree = make_kernel_tree(tmp_path / "linux")
    (tree / "Makefile").write_text("VERSION = 5\nPATCHLEVEL = 15\nSUBLEVEL = 0\n\nvmlinux: all\n")
    with pytest.raises(TranslationError) as e:
        configure.check_kernel_tree(str(tree), "x86_64")
    assert f"{tree}/Makefile: Linux 5.15 has no `vmlinux_o` target" in str(e.value)
    assert "\n" not in str(e.value)


def test_check_kernel_tree_rejects_tree_configured_in_place(tmp_path):
    tree = make_kernel_tree(tmp_path / "linux")
    (tree / ".config").write_text("CONFIG_64BIT=y\n")
    with pytest.raises(TranslationError) as e:
        configure.check_kernel_tree(str(tree), "x86_64")
    assert str(tree) in str(e.value)
    assert "mrproper" in str(e.value)


# sha256_file

def test_sha256_file_is_hex_digest_of_contents(tmp_path):
    f = tmp_path / "blob"
    f.write_bytes(b"kernel" * 1000)
    assert configure.sha256_file(str(f)) == hashlib.sha256(b"kernel" * 1000).hexdigest()


# unpack

def test_unpack_rejects_tarball_with_other_sha256(tmp_path):
    tarball = tmp_path / "linux.tar.xz"
    make_tarball(tarball, {"linux-6.1/Makefile": "all:\n"})
    cache = tmp_path / "cache"
    with pytest.raises(TranslationError, match="is not the expected " + "0" * 64):
        configure.unpack(str(tarball), "0" * 64, str(cache))
    assert not (cache / "src").exists()


def test_unpack_extracts_matching_tarball_and_returns_its_single_tree(tmp_path):
    tarball = tmp_path / "linux.tar.xz"
    digest = make_tarball(tarball, {"linux-6.1/Makefile": "all:\n",
                                    "linux-6.1/kernel/umh.c": "int x;\n"})
    cache = tmp_path / "cache"
    tree = configure.unpack(str(tarball), digest, str(cache))
    assert tree == os.path.join(cache, "src", digest[:16], "linux-6.1")
    with open(os.path.join(tree, "kernel/umh.c")) as f:
        assert f.read() == "int x;\n"


def test_unpack_returns_extraction_dir_when_tarball_has_several_top_entries(tmp_path):
    tarball = tmp_path / "flat.tar.xz"
    digest = make_tarball(tarball, {"Makefile": "all:\n", "Kbuild": "obj-y :=\n"})
    tree = configure.unpack(str(tarball), None, str(tmp_path / "cache"))
    assert tree == os.path.join(tmp_path, "cache", "src", digest[:16])
    assert sorted(os.listdir(tree)) == ["Kbuild", "Makefile"]


def test_unpack_reuses_existing_extraction(tmp_path):
    tarball = tmp_path / "linux.tar.xz"
    digest = make_tarball(tarball, {"linux-6.1/Makefile": "all:\n"})
    cache = tmp_path / "cache"
    tree = configure.unpack(str(tarball), digest, str(cache))
    with open(os.path.join(tree, "Makefile"), "w") as f:
        f.write("edited\n")
    assert configure.unpack(str(tarball), digest, str(cache)) == tree
    with open(os.path.join(tree, "Makefile")) as f:
        assert f.read() == "edited\n"


def test_unpack_rejects_missing_tarball(tmp_path):
    missing = tmp_path / "missing.tar.xz"
    with pytest.raises(TranslationError, match=str(missing)):
        configure.unpack(str(missing), None, str(tmp_path / "cache"))


# declaration_of_flags: what ./kthin configure declares

def test_no_config_flag_declares_tinyconfig_with_the_arch_bootable_fragment():
    x86 = configure.declaration_of_flags("linux-source-6.1", None, "x86_64", None, "", [], "")
    assert (x86.config, x86.fragments) == ("tinyconfig", ("@kthinlto//configs:bootable.config",))
    arm = configure.declaration_of_flags("linux-source-6.1", None, "arm64", None, "", [], "")
    assert arm.fragments == ("@kthinlto//configs:bootable-arm64.config",)
    assert configure.declaration_of_flags("linux-source-6.1", None, "riscv", None, "", [], "").fragments == ()


def test_any_config_flag_replaces_the_default():
    def decl(config, config_file, fragments):
        return configure.declaration_of_flags("linux-source-6.1", None, "x86_64",
                                              config, config_file, fragments, "")
    assert decl("tinyconfig", "", []).fragments == ()
    assert decl("defconfig", "", []).config == "defconfig"
    only = decl(None, "", ["my.config"])
    assert only.config == "tinyconfig" and only.fragments == (os.path.abspath("my.config"),)
    full = decl(None, "a/.config", [])
    assert (full.config, full.config_file, full.fragments) == ("", os.path.abspath("a/.config"), ())


def test_request_of_resolves_labels_and_keeps_pinned_names(tmp_path):
    decl = configure.declaration_of_flags("linux-source-6.1", None, "x86_64", None, "", [], "")
    req = configure.request_of(decl, str(tmp_path), 2, str(tmp_path / "cache"))
    assert req.source == "linux-source-6.1"
    assert req.spec.target == "tinyconfig"
    assert req.spec.fragments == (os.path.join(declaration.RULESET, "configs", "bootable.config"),)
    assert os.path.isfile(req.spec.fragments[0])


def test_declare_copies_outside_files_into_kernels_and_names_them_by_label(tmp_path):
    ws = tmp_path / "ws"
    (ws / "cfg").mkdir(parents=True)
    (ws / "cfg" / "BUILD.bazel").write_text("")
    (ws / "cfg" / "in.config").write_text("CONFIG_A=y\n")
    outside = tmp_path / "out.config"
    outside.write_text("CONFIG_B=y\n")
    decl = configure.declaration_of_flags(
        "linux-source-6.1", None, "x86_64", None, "",
        [str(ws / "cfg" / "in.config"), str(outside)], "")
    declared, copies = configure.declare(decl, str(ws), "k")
    assert declared.fragments == ("//cfg:in.config", "//kernels:k.out.config")
    assert copies == {"//kernels:k.out.config": str(outside)}
