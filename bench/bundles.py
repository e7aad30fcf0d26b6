"""What the thin link's import bundles weigh: the bytes that precise BE
inputs cost on Bazel 4.2.3 (each bundle holds a copy of every module its
object imports)."""

import collections
import dataclasses
import os
import tarfile


@dataclasses.dataclass(frozen=True)
class BundleStats:
    files: int                # bundles, one per BE
    bytes: int                # their size on disk
    imported_bytes: int       # the imported bitcode they hold, copies counted
    distinct_modules: int     # modules imported by at least one object
    distinct_bytes: int       # those modules' bitcode, each counted once
    top: tuple[str, int, int]  # most bytes in bundles: (module, importers, size)


def imported_members(path: str, module: str) -> dict[str, int]:
    """Imported module -> its size, for one bundle (not the object's own
    index, import list or bitcode)."""
    own = {module + ".thinlto.bc", module + ".imports", module}
    with tarfile.open(path) as tar:
        return {m.name: m.size for m in tar.getmembers() if m.name not in own}


def bundle_stats(bundles: dict[str, str],
                 module_of: dict[str, str] | None = None) -> BundleStats:
    """bundles: BE name -> path of its bundle; module_of: BE name -> its
    object module, where they differ (an object in two link units)."""
    importers: collections.Counter[str] = collections.Counter()
    size: dict[str, int] = {}
    total = 0
    for be, path in bundles.items():
        total += os.path.getsize(path)
        module = (module_of or {}).get(be, be)
        for name, n in imported_members(path, module).items():
            importers[name] += 1
            size[name] = n
    top = max(importers, key=lambda m: (importers[m] * size[m], m), default="")
    return BundleStats(
        files=len(bundles), bytes=total,
        imported_bytes=sum(importers[m] * size[m] for m in importers),
        distinct_modules=len(size), distinct_bytes=sum(size.values()),
        top=(top, importers[top], size.get(top, 0)))


def format_stats(s: BundleStats) -> str:
    mb = 1e6
    module, n, size = s.top
    return (f"bundles: {s.bytes / mb:.1f} MB in {s.files} files; imported bitcode "
            f"{s.imported_bytes / mb:.1f} MB, copies of {s.distinct_modules} distinct "
            f"modules ({s.distinct_bytes / mb:.1f} MB); most bytes: {module}, "
            f"imported by {n} objects ({n * size / mb:.1f} MB)")
