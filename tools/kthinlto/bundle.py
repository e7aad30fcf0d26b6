"""Reads the import bundles the thin link writes (rules/private/import_bundles.py).

A bundle X.o.thinlto.tar holds X.o.thinlto.bc (the index), X.o.imports (the
modules it imports) and the bitcode of exactly those modules under their
module names.
"""

import dataclasses
import hashlib
import tarfile


@dataclasses.dataclass(frozen=True)
class Bundle:
    module: str              # the object it belongs to, e.g. kernel/sys.o
    imports: tuple[str, ...]  # what its .imports list names (itself excluded)
    modules: tuple[str, ...]  # the bitcode modules the tar holds


def read(path: str, module: str) -> Bundle:
    with tarfile.open(path) as tar:
        names = tar.getnames()
        listed = tar.extractfile(module + ".imports").read().decode().split()
    meta = {module + ".thinlto.bc", module + ".imports"}
    return Bundle(module, tuple(sorted(set(listed) - {module})),
                  tuple(sorted(n for n in names if n not in meta)))


def member_digests(path: str) -> dict[str, str]:
    """member name -> sha256 of its bytes."""
    out = {}
    with tarfile.open(path) as tar:
        for m in tar.getmembers():
            out[m.name] = hashlib.sha256(tar.extractfile(m).read()).hexdigest()
    return out


def why_changed(module: str, before: dict[str, str], after: dict[str, str]) -> str:
    """Why object `module`'s bundle differs between two thin links, in words:
    its index, its import list, or which imported bitcode changed."""
    index, imports = module + ".thinlto.bc", module + ".imports"
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
