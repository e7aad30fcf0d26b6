"""tools/kthinlto/shared_cache.py's pure parts: which cache user.bazelrc
names, and a translation packed at one path and unpacked at another."""

import gzip
import os

import pytest

from tools.kthinlto import shared_cache as sc


def test_endpoint_is_the_remote_cache_user_bazelrc_sets():
    text = """# the team's cache
build:remote --remote_executor=grpcs://exec.example.com
build:cache --remote_cache=grpcs://old.example.com
build:cache --remote_cache=https://cache.example.com/kernel  # the last wins
build:remote_service --remote_instance_name=main --remote_header=x-api-key=KEY
"""
    ep = sc.endpoint_of_bazelrc(text)
    assert ep == sc.Endpoint("https://cache.example.com/kernel", "main", (("x-api-key", "KEY"),))


def test_endpoint_falls_back_to_the_executor_and_to_bazels_scheme():
    assert sc.endpoint_of_bazelrc("build:remote --remote_executor remote.example.com:443\n") == \
        sc.Endpoint("grpcs://remote.example.com:443")


def test_disk_cache_serves_when_no_remote_cache_is_set():
    assert sc.endpoint_of_bazelrc("build --disk_cache=/srv/cache\n") == sc.Endpoint("file:///srv/cache")
    assert sc.endpoint_of_bazelrc("build --disk_cache=/srv/cache\nbuild:cache --remote_cache=grpc://c\n") \
        == sc.Endpoint("grpc://c")


def test_disk_cache_round_trip_in_bazels_layout(tmp_path, capfd):
    ep = sc.Endpoint(f"file://{tmp_path}/disk")
    tree = _tree(tmp_path / "a", tmp_path / "src")
    assert sc.missing(ep, "k") and sc.store(ep, "k", str(tree), str(tmp_path / "src"), META)
    assert (tmp_path / "disk" / "ac" / sc.action_digest("k").hash[:2] / sc.action_digest("k").hash).is_file()
    other = tmp_path / "b" / "trees" / "k"
    other.parent.mkdir(parents=True)
    assert sc.fetch(ep, "k", str(other), str(tmp_path / "src2"), META)
    assert os.readlink(other / "gen" / "src") == str(tmp_path / "src2")
    assert "warning" not in capfd.readouterr().err


def test_no_cache_in_user_bazelrc_is_none():
    assert sc.endpoint_of_bazelrc("build --jobs=8\ntry-import foo.bazelrc\n") is None


def test_environment_overrides_or_turns_off_user_bazelrc(tmp_path):
    (tmp_path / "user.bazelrc").write_text("build --remote_cache=grpc://a:1\n")
    assert sc.endpoint(str(tmp_path), {}) == sc.Endpoint("grpc://a:1")
    assert sc.endpoint(str(tmp_path), {sc.ENV: "http://b:2"}) == sc.Endpoint("http://b:2")
    assert sc.endpoint(str(tmp_path), {sc.ENV: "off"}) is None
    assert sc.endpoint(str(tmp_path / "nowhere"), {}) is None


def _tree(root, src):
    tree = root / "trees" / "k"
    (tree / "gen").mkdir(parents=True)
    (tree / "obj" / "scripts").mkdir(parents=True)
    (tree / "obj" / ".x.o.cmd").write_text(f"savedcmd_x.o := clang -I{src}/include -o {tree}/obj/x.o\n")
    (tree / "obj" / "scripts" / "tool").write_bytes(b"\x7fELF\0" + str(src).encode())
    (tree / "obj" / "scripts" / "tool").chmod(0o755)
    (tree / "gen" / "src").symlink_to(src)
    (tree / "gen" / "obj").symlink_to(tree / "obj")
    (tree / "users").write_text("/some/output_base/external/kernel\n")
    (tree / "complete").write_text("")
    return tree


META = {"key": "k", "translator": "t", "format": sc.FORMAT}


def test_packed_translation_unpacks_with_this_machines_paths(tmp_path):
    src_a, src_b = tmp_path / "a-src", tmp_path / "b" / "src"
    tree = _tree(tmp_path / "a", src_a)
    data = sc.pack(str(tree), str(src_a), META)
    # No path of this machine but inside the binary.
    plain = gzip.decompress(data).replace(b"\x7fELF\0" + str(src_a).encode(), b"")
    assert str(tmp_path).encode() not in plain and sc.SRCTREE.encode() in plain
    assert sc.pack(str(tree), str(src_a), META) == data   # deterministic
    other = tmp_path / "b" / "trees" / "k"
    other.parent.mkdir(parents=True)
    sc.unpack(data, str(other), str(src_b), META)
    assert (other / "obj" / ".x.o.cmd").read_text() == \
        f"savedcmd_x.o := clang -I{src_b}/include -o {other}/obj/x.o\n"
    assert os.readlink(other / "gen" / "src") == str(src_b)
    assert os.readlink(other / "gen" / "obj") == str(other / "obj")
    # Binaries as they were made; their mode kept.
    assert (other / "obj" / "scripts" / "tool").read_bytes() == b"\x7fELF\0" + str(src_a).encode()
    assert os.stat(other / "obj" / "scripts" / "tool").st_mode & 0o777 == 0o755
    # Which repositories use a tree, and its completeness, stay local.
    assert not (other / "users").exists() and not (other / "complete").exists()


def test_another_translation_is_refused_and_leaves_no_tree(tmp_path):
    tree = _tree(tmp_path / "a", tmp_path / "src")
    data = sc.pack(str(tree), str(tmp_path / "src"), META)
    other = tmp_path / "b"
    with pytest.raises(sc.CacheError, match=r"another translation: translator 't' \(not 't2'\)"):
        sc.unpack(data, str(other), str(tmp_path / "src"), dict(META, translator="t2"))
    assert not other.exists() and not (tmp_path / "b.shared").exists()


def test_truncated_entry_is_refused_and_leaves_no_tree(tmp_path):
    tree = _tree(tmp_path / "a", tmp_path / "src")
    data = sc.pack(str(tree), str(tmp_path / "src"), META)
    other = tmp_path / "b"
    with pytest.raises(sc.CacheError, match="does not unpack"):
        sc.unpack(data[:len(data) // 2], str(other), str(tmp_path / "src"), META)
    assert not other.exists() and not (tmp_path / "b.shared").exists()


def test_chunks_fit_a_grpc_batch_and_join_to_the_whole():
    data = bytes(range(256)) * (3 * sc.CHUNK // 256 + 7)
    parts = sc.chunks(data)
    assert b"".join(parts) == data and max(map(len, parts)) <= sc.CHUNK <= sc.BATCH < 4 << 20
    assert sc.chunks(b"") == [b""]


def test_action_digest_names_key_and_format():
    assert sc.action_digest("k") == sc.action_digest("k")
    assert sc.action_digest("k") != sc.action_digest("k2")


def test_http_user_and_password_in_the_url_become_basic_authentication():
    base, headers = sc.http_base_and_headers(sc.Endpoint("https://me:s%40cret@cache.example.com/k/"))
    assert base == "https://cache.example.com/k"
    assert headers == {"Authorization": "Basic bWU6c0BjcmV0"}   # me:s@cret
    assert sc.http_base_and_headers(sc.Endpoint("http://c:8080", headers=(("x", "y"),))) == \
        ("http://c:8080", {"x": "y"})


def test_a_python_without_the_reapi_modules_translates_here_with_one_warning(
        tmp_path, monkeypatch, capfd):
    def missing_protos():
        raise ImportError("No module named 'build'", name="build")
    monkeypatch.setattr(sc, "_pb", missing_protos)
    ep = sc.Endpoint(f"file://{tmp_path}/disk")
    assert not sc.fetch(ep, "k", str(tmp_path / "t"), str(tmp_path / "src"), META)
    lines = [l for l in capfd.readouterr().err.splitlines() if "warning" in l]
    assert len(lines) == 1 and "lacks build" in lines[0] and "./kthin setup" in lines[0], lines
