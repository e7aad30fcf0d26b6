"""The import bundle, the one place its format is written down: what the
thin link writes (actions/import_bundles.py, with write()), the backend
unpacks (rules/private/backend.sh) and bench and tests read (read()).

A bundle X.o.thinlto.tar is a GNU tar holding X.o.thinlto.bc (the index),
X.o.imports (the modules it imports, one per line) and the bitcode of
exactly those modules, each under its module name (its objtree path), all
with fixed metadata so the same inputs give the same bytes.  The index and
import list names are ld.lld's (--thinlto-index-only
--thinlto-emit-imports-files); the bundle's name is the rules'.
"""

import dataclasses
import hashlib
import os
import tarfile

INDEX = ".thinlto.bc"     # ld.lld: MODULE + INDEX is the module's index
IMPORTS = ".imports"      # ld.lld: MODULE + IMPORTS lists what it imports
IOV_MAX = 1024            # buffers one writev takes at most


def tar_member(name: str, data: bytes) -> list[bytes]:
    """One member as tarfile's GNU format writes it, with fixed metadata
    (the same inputs give the same bytes): header, data, padding."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    return [info.tobuf(tarfile.GNU_FORMAT, tarfile.ENCODING, "surrogateescape"),
            data, bytes(-len(data) % tarfile.BLOCKSIZE)]


def write(path: str, module: str, scratch: str,
          segments: dict[str, list[bytes]], imports: list[str]) -> None:
    """One bundle: index, import list (from scratch, where ld.lld wrote
    them), then the imported bitcode (segments: module -> tar_member);
    ends as tarfile ends an archive (two zero blocks, padding to a whole
    record).  Written with one writev of shared buffers."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    parts: list[bytes] = []
    for suffix in (INDEX, IMPORTS):
        with open(os.path.join(scratch, module + suffix), "rb") as f:
            parts += tar_member(module + suffix, f.read())
    for m in imports:
        if m != module:
            parts += segments[m]
    size = sum(len(p) for p in parts) + 2 * tarfile.BLOCKSIZE
    parts.append(bytes(2 * tarfile.BLOCKSIZE + (-size % tarfile.RECORDSIZE)))
    parts = [p for p in parts if p]
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        # writev may write less than asked (and takes at most IOV_MAX
        # buffers): go on from where it stopped.
        while parts:
            done = os.writev(out, parts[:IOV_MAX])
            while parts and done >= len(parts[0]):
                done -= len(parts.pop(0))
            if done:
                parts[0] = parts[0][done:]
    finally:
        os.close(out)


@dataclasses.dataclass(frozen=True)
class Bundle:
    module: str              # the object it belongs to, e.g. kernel/sys.o
    imports: tuple[str, ...]  # what its .imports list names (itself excluded)
    modules: tuple[str, ...]  # the bitcode modules the tar holds


def read(path: str, module: str) -> Bundle:
    with tarfile.open(path) as tar:
        names = tar.getnames()
        listed = tar.extractfile(module + IMPORTS).read().decode().split()
    meta = {module + INDEX, module + IMPORTS}
    return Bundle(module, tuple(sorted(set(listed) - {module})),
                  tuple(sorted(n for n in names if n not in meta)))


def members(path: str) -> dict[str, tuple[str, int]]:
    """member name -> (sha256 of its bytes, its size)."""
    out = {}
    with tarfile.open(path) as tar:
        for m in tar.getmembers():
            out[m.name] = (hashlib.sha256(tar.extractfile(m).read()).hexdigest(), m.size)
    return out


def member_digests(path: str) -> dict[str, str]:
    """member name -> sha256 of its bytes."""
    return {name: digest for name, (digest, _) in members(path).items()}


def why_changed(module: str, before: dict[str, str], after: dict[str, str]) -> str:
    """Why object `module`'s bundle differs between two thin links, in words:
    its index, its import list, or which imported bitcode changed."""
    index, imports = module + INDEX, module + IMPORTS
    reasons = []
    if before.get(imports) != after.get(imports):
        reasons.append("import list")
    if before.get(index) != after.get(index):
        reasons.append("index")
    changed = sorted(n for n in set(before) | set(after)
                     if n not in (index, imports) and before.get(n) != after.get(n))
    if changed:
        reasons.append("imported bitcode of " + ", ".join(changed))
    return " + ".join(reasons) or "unchanged"
