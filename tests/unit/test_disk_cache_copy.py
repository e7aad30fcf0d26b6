"""tests/e2e/reapi.py's disk cache helpers on a synthetic Bazel disk cache."""

import hashlib
import os

from build.bazel.remote.execution.v2 import remote_execution_pb2 as pb

from tests.e2e import reapi


def _action_result(*paths: str) -> bytes:
    digest = pb.Digest(hash="ab" * 32, size_bytes=3)
    return pb.ActionResult(exit_code=0, output_files=[
        pb.OutputFile(path=p, digest=digest) for p in paths]).SerializeToString()


def _put(cache, kind: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    path = cache / kind / digest[:2] / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def test_action_result_outputs_reads_output_file_paths():
    data = _action_result("bazel-out/be/kernel/sys.o", "bazel-out/be/lib/a.o")
    assert reapi.action_result_outputs(data) == ["bazel-out/be/kernel/sys.o", "bazel-out/be/lib/a.o"]


def test_copy_disk_cache_drops_chosen_action_results_only(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    keep = _put(src, "ac", _action_result("out/fe/kernel/sys.o"))
    drop = _put(src, "ac", _action_result("out/be/kernel/sys.o"))
    blob = _put(src, "cas", b"object bytes")
    n = reapi.copy_disk_cache(str(src), str(dest), lambda outs: any("/be/" in o for o in outs))
    assert n == 1
    assert (dest / "ac" / keep[:2] / keep).exists()
    assert not (dest / "ac" / drop[:2] / drop).exists()
    assert (dest / "cas" / blob[:2] / blob).read_bytes() == b"object bytes"


def test_copy_http_cache_drops_chosen_action_results_and_links_the_rest(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "ac").mkdir(parents=True)
    (src / "cas").mkdir()
    results = {}
    for name, outs in (("keep", "out/fe/a.o"), ("drop", "out/be/a.o")):
        data = _action_result(outs)
        results[name] = hashlib.sha256(data).hexdigest()
        (src / "ac" / results[name]).write_bytes(data)
    blob = hashlib.sha256(b"object bytes").hexdigest()
    (src / "cas" / blob).write_bytes(b"object bytes")
    assert reapi.copy_http_cache(str(src), str(dest), lambda outs: any("/be/" in o for o in outs)) == 1
    assert sorted(os.listdir(dest / "ac")) == [results["keep"]]
    assert os.stat(dest / "cas" / blob).st_ino == os.stat(src / "cas" / blob).st_ino
