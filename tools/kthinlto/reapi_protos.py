"""The REAPI's Python modules, generated once into the virtual environment.

The Remote Execution API's protos (ActionCache, ContentAddressableStorage,
ActionResult, Digest) are published as the Go module
github.com/bazelbuild/remote-apis; no PyPI package ships them generated.
`./kthin setup` runs this when it makes the virtual environment: it fetches
exactly the pinned module zip from the Go module proxy, checks its sha256,
and compiles remote_execution.proto with grpcio-tools (requirements.txt)
against googleapis-common-protos' google/api, google/rpc and
google/longrunning, into OUT, which a .pth file puts on the environment's
sys.path:

  python3 -m tools.kthinlto.reapi_protos --out=DIR   # then:
  from build.bazel.remote.execution.v2 import remote_execution_pb2

The pin is here and only here (./kthin's environment key hashes this file).
"""

import hashlib
import io
import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile

from absl import app
from absl import flags as absl_flags

MODULE = "github.com/bazelbuild/remote-apis"
VERSION = "v0.0.0-20260908115904-76ddd98e1f92"
SHA256 = "704fdf53bde6298364e353bed2e3a06a84a6e8099068cfe4f6c4b698846513e8"
PROTOS = ("build/bazel/remote/execution/v2/remote_execution.proto",
          "build/bazel/semver/semver.proto")
PTH = "kthinlto_reapi.pth"

FLAGS = absl_flags.FLAGS
absl_flags.DEFINE_string("out", None, "Where the generated modules go.")


def proxy() -> str:
    """The first HTTP(S) Go module proxy of GOPROXY (default: Go's own)."""
    for entry in os.environ.get("GOPROXY", "").replace("|", ",").split(","):
        if entry.startswith(("http://", "https://")):
            return entry.rstrip("/")
    return "https://proxy.golang.org"


def module_zip(url: str) -> bytes:
    """The pinned module's zip, checked against SHA256."""
    with urllib.request.urlopen(url, timeout=120) as r:
        data = r.read()
    got = hashlib.sha256(data).hexdigest()
    if got != SHA256:
        raise SystemExit(f"kthinlto: error: {url}: sha256 {got}, pinned {SHA256} "
                         "(tools/kthinlto/reapi_protos.py); the proxy served another zip")
    return data


def generate(data: bytes, out: str) -> None:
    """Compiles PROTOS of the module zip into out (created afresh)."""
    from grpc_tools import protoc
    import google.api
    import grpc_tools
    common = os.path.dirname(os.path.dirname(google.api.__path__[0]))
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "remote-apis")
        prefix = f"{MODULE}@{VERSION}/"
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for name in z.namelist():
                if name.startswith(prefix) and name.endswith(".proto"):
                    path = os.path.join(root, name[len(prefix):])
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "wb") as f:
                        f.write(z.read(name))
        # googleapis-common-protos ships google/longrunning/operations.proto
        # as operations_proto.proto (its modules register the first name).
        alias = os.path.join(tmp, "alias", "google", "longrunning")
        os.makedirs(alias)
        os.symlink(os.path.join(common, "google", "longrunning", "operations_proto.proto"),
                   os.path.join(alias, "operations.proto"))
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        args = ["protoc", f"-I{root}", f"-I{os.path.join(tmp, 'alias')}", f"-I{common}",
                f"-I{os.path.join(os.path.dirname(grpc_tools.__file__), '_proto')}",
                f"--python_out={out}", f"--grpc_python_out={out}", *PROTOS]
        if protoc.main(args) != 0:
            raise SystemExit(f"kthinlto: error: grpc_tools.protoc failed on {MODULE}@{VERSION}")


def install(out: str) -> None:
    """Generates into out and puts it on this environment's sys.path."""
    url = f"{proxy()}/{MODULE}/@v/{VERSION}.zip"
    print(f"kthinlto: generating the REAPI modules from {url}", file=sys.stderr)
    generate(module_zip(url), out)
    import sysconfig
    with open(os.path.join(sysconfig.get_paths()["purelib"], PTH), "w") as f:
        f.write(os.path.abspath(out) + "\n")


def main(argv: list[str]) -> int:
    del argv
    if not FLAGS.out:
        raise app.UsageError("--out is required")
    install(FLAGS.out)
    return 0


if __name__ == "__main__":
    app.run(main)
