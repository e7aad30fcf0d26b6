"""Reads the import bundles the thin link writes (rules/private/import_bundles.py).

A bundle X.o.thinlto.tar holds X.o.thinlto.bc (the index), X.o.imports (the
modules it imports) and the bitcode of exactly those modules under their
module names.
"""

import dataclasses
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
