"""Header scans kept by content (tools/kthinlto/scan_cache.py, deps.scan's
cache_dir): the real clang-scan-deps on a tiny synthetic kernel tree, which
re-scans exactly the compiles whose files or config symbols changed."""

import os

import pytest

from tools.kthinlto import deps, scan_cache
from tools.kthinlto.kbuild import Toolchain
from tools.kthinlto.records import Compile

TC = Toolchain()


def _tree(root):
    src, obj = root / "src", root / "obj"
    (src / "include").mkdir(parents=True)
    (obj / "include" / "generated").mkdir(parents=True)
    (src / "include" / "a.h").write_text("#ifdef CONFIG_B\n#include \"b.h\"\n#endif\n")
    (src / "include" / "b.h").write_text("int b;\n")
    (src / "include" / "c.h").write_text("int c;\n")
    (src / "x.c").write_text("#include \"a.h\"\nint x;\n")
    (src / "y.c").write_text("#include \"c.h\"\nint y;\n")
    (obj / "include" / "generated" / "autoconf.h").write_text("#define CONFIG_B 1\n")
    return src, obj


def _compiles(src, obj):
    def c(name):
        return Compile(output=f"{name}.o", source=str(src / f"{name}.c"), bitcode=True, argv=(
            "-nostdinc", f"-I{src}/include", "-include",
            f"{obj}/include/generated/autoconf.h", "-c", "-o", f"{name}.o", str(src / f"{name}.c")))
    return [c("x"), c("y")]


@pytest.fixture
def counted(monkeypatch):
    """How many compiles each deps.scan call gave clang-scan-deps."""
    calls = []
    real = deps._scan_all

    def spy(objs, *args, **kw):
        calls.append(sorted(c.output for c in objs))
        return real(objs, *args, **kw)
    monkeypatch.setattr(deps, "_scan_all", spy)
    return calls


def _scan(root, src, obj, config, cache):
    work = root / "work"
    work.mkdir(exist_ok=True)
    return deps.scan(_compiles(src, obj), TC.clang, TC.scan_deps, str(obj), str(src),
                     str(work), 1, cache_dir=str(cache), config=config)


def test_unchanged_compiles_are_not_scanned_again(tmp_path, counted):
    src, obj = _tree(tmp_path / "a")
    config = {"CONFIG_B": "y", "CONFIG_OTHER": "y"}
    first = _scan(tmp_path, src, obj, config, tmp_path / "cache")
    assert first["x.o"] == ["%{src}/x.c", "%{obj}/include/generated/autoconf.h",
                            "%{src}/include/a.h", "%{src}/include/b.h"]
    assert _scan(tmp_path, src, obj, config, tmp_path / "cache") == first
    # An option no file names: nothing scanned again.
    assert _scan(tmp_path, src, obj, dict(config, CONFIG_OTHER="n"), tmp_path / "cache") == first
    assert counted == [["x.o", "y.o"]]


def test_a_changed_header_or_named_option_scans_its_compiles_again(tmp_path, counted):
    src, obj = _tree(tmp_path / "a")
    cache = tmp_path / "cache"
    _scan(tmp_path, src, obj, {"CONFIG_B": "y"}, cache)
    # CONFIG_B off (autoconf.h follows the .config): x.c no longer reads b.h.
    (obj / "include" / "generated" / "autoconf.h").write_text("\n")
    assert _scan(tmp_path, src, obj, {"CONFIG_B": "n"}, cache)["x.o"] == [
        "%{src}/x.c", "%{obj}/include/generated/autoconf.h", "%{src}/include/a.h"]
    # y.c's header changed: y.o only.
    (src / "include" / "c.h").write_text("#include \"b.h\"\n")
    assert _scan(tmp_path, src, obj, {"CONFIG_B": "n"}, cache)["y.o"] == [
        "%{src}/y.c", "%{obj}/include/generated/autoconf.h", "%{src}/include/c.h",
        "%{src}/include/b.h"]
    assert counted == [["x.o", "y.o"], ["x.o"], ["y.o"]]


def test_another_tree_of_the_same_files_reuses_the_scans(tmp_path, counted):
    src, obj = _tree(tmp_path / "a")
    first = _scan(tmp_path, src, obj, {"CONFIG_B": "y"}, tmp_path / "cache")
    src2, obj2 = _tree(tmp_path / "elsewhere")
    assert _scan(tmp_path, src2, obj2, {"CONFIG_B": "y"}, tmp_path / "cache") == first
    assert counted == [["x.o", "y.o"]]


def test_module_symbols_follow_their_option():
    config = {"CONFIG_A": "m", "CONFIG_B": "y", "CONFIG_C": "n"}
    assert scan_cache.config_value(config, "CONFIG_A_MODULE") == "m"
    assert scan_cache.config_value(config, "CONFIG_B_MODULE") == ""
    assert scan_cache.config_value(config, "CONFIG_C") == scan_cache.config_value(config, "CONFIG_D") == ""


def test_a_config_switched_back_finds_its_scans(tmp_path, counted):
    src, obj = _tree(tmp_path / "a")
    cache = tmp_path / "cache"
    _scan(tmp_path, src, obj, {"CONFIG_B": "y"}, cache)
    (obj / "include" / "generated" / "autoconf.h").write_text("\n")
    _scan(tmp_path, src, obj, {"CONFIG_B": "n"}, cache)
    (obj / "include" / "generated" / "autoconf.h").write_text("#define CONFIG_B 1\n")
    _scan(tmp_path, src, obj, {"CONFIG_B": "y"}, cache)
    assert counted == [["x.o", "y.o"], ["x.o"]]


def test_a_damaged_entry_is_scanned_again(tmp_path):
    os.makedirs(tmp_path / "scan" / "ab")
    (tmp_path / "scan" / "ab" / "abcd").write_bytes(b"not zlib")
    assert scan_cache.load(str(tmp_path), "abcd") == []
    for i in range(scan_cache.KEPT + 2):
        scan_cache.store(str(tmp_path), "abcd", {"deps": [str(i)], "files": "f", "config": {}})
    kept = scan_cache.load(str(tmp_path), "abcd")
    assert [e["deps"] for e in kept] == [[str(i)] for i in range(scan_cache.KEPT + 1, 1, -1)]
