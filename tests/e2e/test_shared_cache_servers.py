"""Translations through real shared caches (tools/kthinlto/shared_cache.py):
buildbox-casd over gRPC (REAPI ActionCache + CAS) and nginx as Bazel's HTTP
cache.  A small synthetic translation tree, so each bad cache is seen fast;
test_remote_cache.py has a fresh clone take a real kernel's translation
from the cache."""

import os
import socket
import threading
import time

import pytest

from tests.e2e import reapi
from tools.kthinlto import shared_cache as sc

META = {"key": "k", "translator": "t", "format": sc.FORMAT}


def _tree(root: str, src: str) -> str:
    tree = os.path.join(root, "trees", "k")
    os.makedirs(os.path.join(tree, "obj"))
    os.makedirs(os.path.join(tree, "gen"))
    with open(os.path.join(tree, "obj", ".x.o.cmd"), "w") as f:
        f.write(f"savedcmd_x.o := clang -I{src}/include -c -o {tree}/obj/x.o\n")
    # Several chunks, so several blobs and batches.
    with open(os.path.join(tree, "obj", "big"), "wb") as f:
        f.write(os.urandom(3 * sc.CHUNK))
    os.symlink(src, os.path.join(tree, "gen", "src"))
    return tree


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """{"grpc": (endpoint, casd's storage), "http": (endpoint, nginx's files)}."""
    tmp = str(tmp_path_factory.mktemp("shared"))
    port = reapi.free_port()
    casd = reapi.Server("casd", [reapi.buildbox("buildbox-casd"), f"--bind=127.0.0.1:{port}",
                                 os.path.join(tmp, "casd")], os.path.join(tmp, "casd.log"))
    reapi._wait_tcp("127.0.0.1", port, None, casd)
    nginx, url = reapi.nginx_cache(os.path.join(tmp, "nginx"))
    yield {"grpc": (sc.Endpoint(f"grpc://127.0.0.1:{port}"), os.path.join(tmp, "casd")),
           "http": (sc.Endpoint(url), os.path.join(tmp, "nginx", "cache"))}
    casd.stop()
    nginx.stop()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_translation_stored_by_one_path_is_fetched_at_another(servers, protocol, tmp_path, capfd):
    ep, _ = servers[protocol]
    tree = _tree(str(tmp_path / "a"), str(tmp_path / "a-src"))
    key = f"roundtrip-{protocol}"
    assert sc.missing(ep, key)
    assert sc.store(ep, key, tree, str(tmp_path / "a-src"), META)
    assert not sc.missing(ep, key)
    other = str(tmp_path / "b" / "trees" / "k")
    os.makedirs(os.path.dirname(other))
    assert sc.fetch(ep, key, other, str(tmp_path / "b-src"), META)
    with open(os.path.join(other, "obj", ".x.o.cmd")) as f:
        assert f.read() == (f"savedcmd_x.o := clang -I{tmp_path}/b-src/include -c "
                            f"-o {other}/obj/x.o\n")
    with open(os.path.join(tree, "obj", "big"), "rb") as a, \
            open(os.path.join(other, "obj", "big"), "rb") as b:
        assert a.read() == b.read()
    assert os.readlink(os.path.join(other, "gen", "src")) == str(tmp_path / "b-src")
    err = capfd.readouterr().err
    assert f"translation {key} from shared cache {ep}" in err and "warning" not in err


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_absent_translation_is_translated_here_without_a_warning(servers, protocol, tmp_path, capfd):
    ep, _ = servers[protocol]
    assert not sc.fetch(ep, "never-stored", str(tmp_path / "t"), str(tmp_path / "src"), META)
    err = capfd.readouterr().err
    assert "is not in shared cache" in err and "warning" not in err
    assert not os.path.exists(tmp_path / "t")


def _one_warning(capfd, *words: str) -> str:
    lines = [line for line in capfd.readouterr().err.splitlines() if "warning" in line]
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_cache_that_is_down_gives_one_warning(protocol, tmp_path, capfd):
    port = reapi.free_port()     # nothing listens there
    ep = sc.Endpoint(f"{protocol}://127.0.0.1:{port}")
    assert not sc.fetch(ep, "k", str(tmp_path / "t"), str(tmp_path / "src"), META)
    _one_warning(capfd, str(ep), "translating here")
    assert not os.path.exists(tmp_path / "t")


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_cache_that_never_answers_is_given_up_on(protocol, tmp_path, capfd, monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    monkeypatch.setattr(sc, "TIMEOUT", 2.0)
    ep = sc.Endpoint(f"{protocol}://127.0.0.1:{listener.getsockname()[1]}")
    start = time.monotonic()
    assert not sc.fetch(ep, "k", str(tmp_path / "t"), str(tmp_path / "src"), META)
    assert time.monotonic() - start < 10
    _one_warning(capfd, str(ep), "translating here")
    listener.close()


def _blob_file(protocol: str, files: str, digest_hash: str) -> str:
    if protocol == "http":
        return os.path.join(files, "cas", digest_hash)
    return os.path.join(files, "cas", "objects", digest_hash[:2], digest_hash[2:])


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_corrupt_blob_is_not_used(servers, protocol, tmp_path, capfd):
    ep, files = servers[protocol]
    tree = _tree(str(tmp_path / "a"), str(tmp_path / "src"))
    key = f"corrupt-{protocol}"
    assert sc.store(ep, key, tree, str(tmp_path / "src"), META)
    result = sc._pb().ActionResult.FromString(sc.client(ep).get_action_result(sc.action_digest(key)))
    blob = _blob_file(protocol, files, result.output_files[1].digest.hash)
    with open(blob, "rb") as f:
        data = bytearray(f.read())
    data[100] ^= 0xFF
    os.chmod(blob, 0o644)
    with open(blob, "wb") as f:
        f.write(data)
    capfd.readouterr()
    other = str(tmp_path / "b")
    assert not sc.fetch(ep, key, other, str(tmp_path / "src"), META)
    _one_warning(capfd, "does not have the digest", "translating here")
    assert not os.path.exists(other) and not os.path.exists(other + ".shared")


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_entry_of_another_translator_is_not_used(servers, protocol, tmp_path, capfd):
    ep, _ = servers[protocol]
    tree = _tree(str(tmp_path / "a"), str(tmp_path / "src"))
    key = f"translator-{protocol}"
    assert sc.store(ep, key, tree, str(tmp_path / "src"), dict(META, translator="old"))
    capfd.readouterr()
    other = str(tmp_path / "b")
    assert not sc.fetch(ep, key, other, str(tmp_path / "src"), META)
    _one_warning(capfd, "another translation", "translator 'old'")
    assert not os.path.exists(other)

