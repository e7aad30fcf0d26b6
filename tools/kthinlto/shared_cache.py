"""Translations through the team's shared cache, in the cache's own protocol.

A translation depends only on its inputs (trees.py's key), so one machine's
translation serves every other: the kernel repository rule looks it up in
the shared cache Bazel's actions use before translating, and stores it there
after translating.  Any REAPI cache serves it (gRPC: ActionCache and
ContentAddressableStorage; or Bazel's HTTP cache protocol, GET/PUT of
/ac/<hash> and /cas/<hash>), so nothing else has to run:

  * the entry is an ActionResult under the digest of an Action whose Command
    names the translation's key (action_digest), so no Bazel action can
    collide with it;
  * its output files are the translation packed as one deterministic
    .tar.gz, in chunks of at most CHUNK bytes (each fits a gRPC batch call),
    each a CAS blob;
  * paths of the machine that made it are replaced in the archive by
    placeholders (pack), and by this machine's on the way back (unpack), so
    another path, user and output base can use it byte for byte.

Which cache: the one user.bazelrc points Bazel at (endpoint_of_bazelrc;
a --disk_cache directory too, in Bazel's layout);
KTHINLTO_SHARED_CACHE=URL overrides it, KTHINLTO_SHARED_CACHE=off turns it
off.  A cache that is down, slow (TIMEOUT per call), serves a blob whose
digest is not what the entry names, or an entry of another translator gives
one warning line, then the translation is made here; nothing half-written is
ever used (unpack writes beside the tree and renames it into place last).
"""

import base64
import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import os
import shlex
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request

FORMAT = 1                  # of the packed translation; another, another key
CHUNK = 1 << 20             # bytes per CAS blob (gRPC batches stay < 4 MiB)
BATCH = 3 * CHUNK           # bytes per gRPC batch call
TIMEOUT = 30.0              # seconds per call to the cache
META = "shared.json"        # in the archive: what it is a translation of
TREE = "@KTHINLTO_TREE@"    # placeholders for this machine's paths
SRCTREE = "@KTHINLTO_SRCTREE@"
ENV = "KTHINLTO_SHARED_CACHE"
# What the cache does not carry: which repositories use the tree, and the
# mark written last (unpack writes its own).
LOCAL_ONLY = ("users", "complete")


class CacheError(Exception):
    """The shared cache failed or served something unusable (the reason)."""


@dataclasses.dataclass(frozen=True)
class Endpoint:
    url: str                                  # grpc(s):// or http(s)://
    instance: str = ""                        # --remote_instance_name
    headers: tuple[tuple[str, str], ...] = ()  # --remote_header

    def __str__(self) -> str:
        return self.url


_CACHE_FLAGS = ("--remote_cache", "--remote_executor", "--disk_cache")


def endpoint_of_bazelrc(text: str) -> Endpoint | None:
    """The shared cache a user.bazelrc points Bazel at: its --remote_cache
    (or, with none, --remote_executor, whose service is a cache too), with
    the --remote_instance_name and --remote_header it sets, or else its
    --disk_cache (as file://DIR); None if none.
    Every command and config counts (build:cache, build:remote,
    build:remote_service, common ...): the translation is the same whatever
    config a build runs with.  The last value of each flag wins, as in Bazel."""
    values: dict[str, str] = {}
    headers: dict[str, str] = {}
    for line in text.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        if not words or words[0].startswith("-") or words[0] == "import" or words[0] == "try-import":
            continue
        args = words[1:]
        for i, word in enumerate(args):
            name, eq, value = word.partition("=")
            if not eq and i + 1 < len(args) and not args[i + 1].startswith("-"):
                value = args[i + 1]
            if name in _CACHE_FLAGS + ("--remote_instance_name",):
                values[name] = value
            elif name in ("--remote_header", "--remote_cache_header"):
                key, _, v = value.partition("=")
                headers[key] = v
    url = values.get("--remote_cache") or values.get("--remote_executor")
    if not url and values.get("--disk_cache"):
        return Endpoint("file://" + os.path.expanduser(values["--disk_cache"]))
    if not url:
        return None
    if "://" not in url:
        url = "grpcs://" + url      # Bazel's default scheme
    return Endpoint(url, values.get("--remote_instance_name", ""), tuple(sorted(headers.items())))


def endpoint(workspace: str, environ: dict) -> Endpoint | None:
    """The shared cache for translations of workspace's kernels (see the
    module doc), or None."""
    forced = environ.get(ENV, "")
    if forced == "off":
        return None
    if forced:
        return Endpoint(forced if "://" in forced else "grpcs://" + forced)
    try:
        with open(os.path.join(workspace, "user.bazelrc")) as f:
            return endpoint_of_bazelrc(f.read())
    except FileNotFoundError:
        return None


def _pb():
    from build.bazel.remote.execution.v2 import remote_execution_pb2
    return remote_execution_pb2


def digest_of(data: bytes):
    return _pb().Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def action_digest(key: str):
    """The action a translation is stored under: a Command naming its key
    and format, no inputs."""
    pb = _pb()
    command = pb.Command(arguments=["kthinlto-translation", f"format={FORMAT}", key],
                         output_paths=["translation.tar.gz"])
    root = pb.Directory()
    action = pb.Action(command_digest=digest_of(command.SerializeToString(deterministic=True)),
                       input_root_digest=digest_of(root.SerializeToString(deterministic=True)))
    return digest_of(action.SerializeToString(deterministic=True))


# Packing: the tree as one deterministic .tar.gz with placeholders for paths.

def _swap(data: bytes, pairs: list[tuple[str, str]]) -> bytes:
    for old, new in pairs:
        data = data.replace(old.encode(), new.encode())
    return data


def pack(tree: str, srctree: str, meta: dict) -> bytes:
    """tree (a complete translation) as a .tar.gz: sorted, fixed metadata,
    this machine's tree and source paths replaced in text files (no NUL
    byte) and link targets; meta as META."""
    out = io.BytesIO()
    pairs = [(os.path.realpath(tree), TREE), (os.path.realpath(srctree), SRCTREE)]
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        def add(name: str, data: bytes | None = None, link: str | None = None,
                mode: int = 0o644, is_dir: bool = False) -> None:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = 0, mode
            if is_dir:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        add(META, json.dumps(meta, sort_keys=True).encode())
        for root, dirs, files in os.walk(tree):
            dirs.sort()
            rel_root = os.path.relpath(root, tree)
            for name in sorted(dirs + files):
                path = os.path.join(root, name)
                rel = os.path.normpath(os.path.join(rel_root, name))
                if rel in LOCAL_ONLY:
                    continue
                mode = os.lstat(path).st_mode & 0o777
                if os.path.islink(path):
                    add(rel, link=_swap(os.readlink(path).encode(), pairs).decode(
                        "utf-8", "surrogateescape"))
                elif os.path.isdir(path):
                    add(rel, mode=mode, is_dir=True)
                else:
                    with open(path, "rb") as f:
                        data = f.read()
                    add(rel, data if b"\0" in data else _swap(data, pairs), mode=mode)
    return out.getvalue()


def unpack(data: bytes, tree: str, srctree: str, meta: dict) -> None:
    """Writes the packed translation as tree (which must not exist), with
    this machine's paths; its META must be meta.  Written beside tree and
    renamed into place last: on any failure, no tree."""
    tmp = tree + ".shared"
    shutil.rmtree(tmp, ignore_errors=True)
    pairs = [(TREE, os.path.realpath(tree)), (SRCTREE, os.path.realpath(srctree))]
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            first = tar.next()
            if first is None or first.name != META:
                raise CacheError("the entry is not a packed translation")
            got = json.loads(tar.extractfile(first).read())
            if got != meta:
                diff = ", ".join(f"{k} {got.get(k)!r} (not {v!r})" for k, v in sorted(meta.items())
                                 if got.get(k) != v)
                raise CacheError(f"the entry is another translation: {diff}")
            for info in tar:
                if info.name.startswith("/") or ".." in info.name.split("/"):
                    raise CacheError(f"the entry has a path outside the tree: {info.name}")
                path = os.path.join(tmp, info.name)
                if info.isdir():
                    os.makedirs(path, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(path), exist_ok=True)
                if info.issym():
                    os.symlink(_swap(info.linkname.encode("utf-8", "surrogateescape"), pairs)
                               .decode("utf-8", "surrogateescape"), path)
                elif info.isfile():
                    body = tar.extractfile(info).read()
                    with open(path, "wb") as f:
                        f.write(body if b"\0" in body else _swap(body, pairs))
                    os.chmod(path, info.mode)
                else:
                    raise CacheError(f"the entry has an unexpected member {info.name}")
        os.rename(tmp, tree)
    except (OSError, tarfile.TarError, EOFError, ValueError, gzip.BadGzipFile) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CacheError(f"the entry does not unpack: {e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def chunks(data: bytes) -> list[bytes]:
    return [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]


def _chunk_name(i: int) -> str:
    return f"translation.tar.gz.{i:05d}"


# The two protocols.

def http_base_and_headers(ep: Endpoint) -> tuple[str, dict[str, str]]:
    """The URL to put /ac/ and /cas/ under, and the request headers: user
    and password in the URL (https://user:pass@host/, as Bazel takes
    them) become basic authentication."""
    parts = urllib.parse.urlsplit(ep.url)
    headers = dict(ep.headers)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        token = base64.b64encode(urllib.parse.unquote(userinfo).encode()).decode()
        headers.setdefault("Authorization", "Basic " + token)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)).rstrip("/"), headers


class _KeyedStore:
    """A cache that stores each entry under <kind>/<hash>, kind ac or cas
    (Bazel's HTTP cache and disk cache): get(kind, hash) gives the bytes
    or None, put(kind, hash, data) stores them."""

    def get_action_result(self, digest) -> bytes | None:
        return self.get("ac", digest.hash)

    def put_action_result(self, digest, data: bytes) -> None:
        self.put("ac", digest.hash, data)

    def get_blobs(self, digests) -> dict[str, bytes]:
        got = {}
        for d in digests:
            data = self.get("cas", d.hash)
            if data is None:
                raise CacheError(f"blob {d.hash} is missing")
            got[d.hash] = data
        return got

    def put_blobs(self, blobs: list[bytes]) -> None:
        for data in blobs:
            self.put("cas", digest_of(data).hash, data)

    def close(self) -> None:
        pass


class HttpCache(_KeyedStore):
    """Bazel's HTTP cache protocol: /ac/<hash> holds a serialized
    ActionResult, /cas/<hash> a blob."""

    def __init__(self, ep: Endpoint):
        self.base, self.headers = http_base_and_headers(ep)

    def _request(self, method: str, path: str, data: bytes | None = None) -> bytes | None:
        req = urllib.request.Request(f"{self.base}/{path}", data=data, method=method,
                                     headers=self.headers)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            if method == "GET" and e.code == 404:
                return None
            raise CacheError(f"{method} /{path}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError) as e:
            raise CacheError(f"{method} /{path}: {getattr(e, 'reason', e)}") from None

    def get(self, kind: str, h: str) -> bytes | None:
        return self._request("GET", f"{kind}/{h}")

    def put(self, kind: str, h: str, data: bytes) -> None:
        self._request("PUT", f"{kind}/{h}", data)


class DiskCache(_KeyedStore):
    """Bazel's --disk_cache directory: ac/<2>/<hash> and cas/<2>/<hash>
    (a team's cache on a shared file system, or one machine's checkouts).
    Files are written beside their name and renamed into place."""

    def __init__(self, ep: Endpoint):
        self.root = ep.url[len("file://"):]

    def _path(self, kind: str, h: str) -> str:
        return os.path.join(self.root, kind, h[:2], h)

    def get(self, kind: str, h: str) -> bytes | None:
        try:
            with open(self._path(kind, h), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise CacheError(f"{kind}/{h}: {e.strerror}") from None

    def put(self, kind: str, h: str, data: bytes) -> None:
        path = self._path(kind, h)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(f"{path}.kthinlto-{os.getpid()}", "wb") as f:
                f.write(data)
            os.replace(f"{path}.kthinlto-{os.getpid()}", path)
        except OSError as e:
            raise CacheError(f"{kind}/{h}: {e.strerror}") from None


class GrpcCache:
    """REAPI over gRPC: ActionCache and ContentAddressableStorage."""

    def __init__(self, ep: Endpoint):
        import grpc
        from build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as rpc
        self.grpc = grpc
        target = ep.url.split("://", 1)[1].rstrip("/")
        if ep.url.startswith("grpcs://"):
            self.channel = grpc.secure_channel(target, grpc.ssl_channel_credentials())
        else:
            self.channel = grpc.insecure_channel(target)
        self.instance = ep.instance
        self.metadata = tuple((k.lower(), v) for k, v in ep.headers)
        self.ac = rpc.ActionCacheStub(self.channel)
        self.cas = rpc.ContentAddressableStorageStub(self.channel)

    def _call(self, what: str, method, request):
        try:
            return method(request, timeout=TIMEOUT, metadata=self.metadata)
        except self.grpc.RpcError as e:
            if e.code() == self.grpc.StatusCode.NOT_FOUND:
                return None
            raise CacheError(f"{what}: {e.code().name} {e.details() or ''}".strip()) from None

    def get_action_result(self, digest) -> bytes | None:
        pb = _pb()
        result = self._call("GetActionResult", self.ac.GetActionResult, pb.GetActionResultRequest(
            instance_name=self.instance, action_digest=digest, inline_stdout=False,
            inline_stderr=False))
        return None if result is None else result.SerializeToString(deterministic=True)

    def put_action_result(self, digest, data: bytes) -> None:
        pb = _pb()
        self._call("UpdateActionResult", self.ac.UpdateActionResult, pb.UpdateActionResultRequest(
            instance_name=self.instance, action_digest=digest,
            action_result=pb.ActionResult.FromString(data)))

    def _batches(self, items, size):
        batch, total = [], 0
        for item in items:
            if batch and total + size(item) > BATCH:
                yield batch
                batch, total = [], 0
            batch.append(item)
            total += size(item)
        if batch:
            yield batch

    def get_blobs(self, digests) -> dict[str, bytes]:
        pb = _pb()
        got = {}
        for batch in self._batches(list(digests), lambda d: d.size_bytes):
            response = self._call("BatchReadBlobs", self.cas.BatchReadBlobs, pb.BatchReadBlobsRequest(
                instance_name=self.instance, digests=batch))
            if response is None:
                raise CacheError("BatchReadBlobs: NOT_FOUND")
            for r in response.responses:
                if r.status.code != 0:
                    raise CacheError(f"blob {r.digest.hash}: status {r.status.code} {r.status.message}")
                got[r.digest.hash] = r.data
        return got

    def put_blobs(self, blobs: list[bytes]) -> None:
        pb = _pb()
        by_hash = {digest_of(b).hash: b for b in blobs}
        missing = self._call("FindMissingBlobs", self.cas.FindMissingBlobs, pb.FindMissingBlobsRequest(
            instance_name=self.instance, blob_digests=[digest_of(b) for b in by_hash.values()]))
        todo = [by_hash[d.hash] for d in (missing.missing_blob_digests if missing else [])]
        for batch in self._batches(todo, len):
            response = self._call("BatchUpdateBlobs", self.cas.BatchUpdateBlobs,
                                  pb.BatchUpdateBlobsRequest(instance_name=self.instance, requests=[
                                      pb.BatchUpdateBlobsRequest.Request(digest=digest_of(b), data=b)
                                      for b in batch]))
            for r in (response.responses if response else []):
                if r.status.code != 0:
                    raise CacheError(f"blob {r.digest.hash}: status {r.status.code} {r.status.message}")

    def close(self) -> None:
        self.channel.close()


def client(ep: Endpoint):
    if ep.url.startswith(("http://", "https://")):
        return HttpCache(ep)
    if ep.url.startswith(("grpc://", "grpcs://")):
        return GrpcCache(ep)
    if ep.url.startswith("file://"):
        return DiskCache(ep)
    raise CacheError(f"scheme of {ep.url} is none of grpc, grpcs, http, https, file")


# What the translator calls.

def warn(ep: Endpoint, why: str, then: str) -> None:
    print(f"kthinlto: warning: shared cache {ep}: {why}; {then}", file=sys.stderr)


@contextlib.contextmanager
def _session(ep: Endpoint, then: str):
    """A client of ep for one call; a CacheError becomes one warning line
    (then: what happens instead) and the call's result is None."""
    c = None
    outcome = {"failed": False}
    try:
        c = client(ep)
        yield c, outcome
    except (CacheError, OSError) as e:
        # OSError: this machine's side (packing a tree, unpacking one).
        warn(ep, str(e), then)
        outcome["failed"] = True
    except ImportError as e:
        warn(ep, f"this Python ({sys.executable}) lacks {e.name or e}: make the environment "
             "with ./kthin setup (or, in your own, pip install -r requirements.txt and "
             "python3 -m tools.kthinlto.reapi_protos --out=DIR)", then)
        outcome["failed"] = True
    finally:
        if c is not None:
            c.close()


def missing(ep: Endpoint, key: str) -> bool:
    """Whether the shared cache answers that it lacks key's translation
    (False when it cannot answer: nothing to store into)."""
    answer = False
    with _session(ep, "the translation stays local") as (c, _):
        answer = c.get_action_result(action_digest(key)) is None
    return answer


def _read_translation(c, key: str) -> bytes | None:
    """The packed translation of key in c, its blobs checked; None if c
    has no entry for key."""
    raw = c.get_action_result(action_digest(key))
    if raw is None:
        return None
    result = _pb().ActionResult.FromString(raw)
    outputs = sorted(result.output_files, key=lambda o: o.path)
    if not outputs or [o.path for o in outputs] != [_chunk_name(i) for i in range(len(outputs))]:
        raise CacheError("the entry names no packed translation")
    blobs = c.get_blobs([o.digest for o in outputs])
    parts = []
    for o in outputs:
        data = blobs.get(o.digest.hash)
        if data is None or digest_of(data) != o.digest:
            raise CacheError(f"blob {o.digest.hash} does not have the digest the entry names")
        parts.append(data)
    return b"".join(parts)


def fetch(ep: Endpoint, key: str, tree: str, srctree: str, meta: dict) -> bool:
    """Writes the translation of key as tree from the shared cache; False
    (after one warning line if the cache failed) when it is not there."""
    start = time.monotonic()
    data = None
    with _session(ep, "translating here") as (c, outcome):
        data = _read_translation(c, key)
        if data is not None:
            unpack(data, tree, srctree, meta)
    if outcome["failed"]:
        return False
    if data is None:
        print(f"kthinlto: translation {key} is not in shared cache {ep} yet; "
              "translating here", file=sys.stderr)
        return False
    print(f"kthinlto: translation {key} from shared cache {ep} "
          f"({len(data) / 1e6:.1f} MB in {time.monotonic() - start:.1f} s)", file=sys.stderr)
    return True


def store(ep: Endpoint, key: str, tree: str, srctree: str, meta: dict) -> bool:
    """Puts the complete translation tree into the shared cache under key;
    False (after one warning line) if the cache failed."""
    start = time.monotonic()
    size = 0
    with _session(ep, "the translation stays local") as (c, outcome):
        parts = chunks(pack(tree, srctree, meta))
        c.put_blobs(parts)
        pb = _pb()
        result = pb.ActionResult(exit_code=0, output_files=[
            pb.OutputFile(path=_chunk_name(i), digest=digest_of(p)) for i, p in enumerate(parts)])
        c.put_action_result(action_digest(key), result.SerializeToString(deterministic=True))
        size = sum(len(p) for p in parts)
    if outcome["failed"]:
        return False
    print(f"kthinlto: stored translation {key} in shared cache {ep} "
          f"({size / 1e6:.1f} MB in {time.monotonic() - start:.1f} s)", file=sys.stderr)
    return True
