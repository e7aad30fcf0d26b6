"""What a build's actions read, in bytes, from Bazel's execution log: what
each phase declares, and what a remote build of the same graph would upload.

A remote build uploads each blob its executor lacks once (the CAS is keyed
by digest): for every action the rules send to remote workers, each input
no remote action wrote (sources, headers, the toolchain, the outputs of
local actions), and, with a remote cache, the outputs of the local actions
(their results are cached).  The minimum is the same with each import bundle
taken apart: its index and import list are new, the bitcode it carries is
the FE's outputs, already there.
"""

import collections
import dataclasses

from tools.kthinlto.buildgraph import phase_of
from tools.kthinlto.contract import MNEMONIC

BACKEND = MNEMONIC["THINLTO_BACKEND"]
THIN_LINK = MNEMONIC["THINLTO_INDEX"]


def _digest(entry: dict) -> tuple[str, int]:
    d = entry.get("digest") or {}
    return d.get("hash", ""), int(d.get("sizeBytes", 0))


# Where the toolchain and the rules' own tools are, in an execroot: the
# repositories rules/repositories.bzl declares and the ruleset's files.
TOOL_PREFIXES = ("external/kthinlto_", "external/kthinlto/", "rules/", "tools/")
OUTPUTS, SOURCES, TOOLS = "outputs of local actions", "kernel sources", "toolchain and tools"


def kind_of(path: str) -> str:
    """What an input file is, by where it is in the execroot."""
    if path.startswith("bazel-out/"):
        return OUTPUTS
    if path.startswith(TOOL_PREFIXES):
        return TOOLS
    return SOURCES


def declared_bytes(entries: list[dict]) -> dict[str, dict[str, int]]:
    """phase -> kind -> the bytes its actions declare as inputs, summed over
    them (a header every FE reads counts once per FE)."""
    out: dict[str, dict[str, int]] = {}
    for e in entries:
        per = out.setdefault(phase_of(e.get("mnemonic", "")), collections.Counter())
        for i in e.get("inputs", []):
            per[kind_of(i["path"])] += _digest(i)[1]
    return {phase: dict(kinds) for phase, kinds in out.items()}


@dataclasses.dataclass(frozen=True)
class Upload:
    """Distinct blobs a remote build uploads: digest -> (size, kind)."""
    blobs: dict[str, tuple[int, str]]

    @property
    def bytes(self) -> int:
        return sum(size for size, _ in self.blobs.values())

    @property
    def kernel_bytes(self) -> int:
        """Without the toolchain and tools (sent once, whatever the kernel)."""
        return sum(size for size, kind in self.blobs.values() if kind != TOOLS)

    def by_kind(self) -> dict[str, int]:
        out: dict[str, int] = collections.Counter()
        for size, kind in self.blobs.values():
            out[kind] += size
        return dict(out)


def bundles(entries: list[dict]) -> dict[str, tuple[str, int]]:
    """The import bundles a build's BE read: path -> (digest, size), found as
    the BE inputs that a thin link wrote."""
    written = {o["path"] for e in entries if e.get("mnemonic") == THIN_LINK
               for o in e.get("actualOutputs", [])}
    return {i["path"]: _digest(i) for e in entries if e.get("mnemonic") == BACKEND
            for i in e.get("inputs", []) if i["path"] in written}


def digests(entries: list[dict]) -> set[str]:
    """Every blob a build read or wrote: after a remote build, the CAS has
    them all."""
    return {_digest(f)[0] for e in entries
            for f in e.get("inputs", []) + e.get("actualOutputs", [])}


def upload(entries: list[dict], remotable=lambda e: e.get("remotable", False),
           members=None, known: set[str] = frozenset()) -> Upload:
    """What a remote build of these actions uploads.  remotable(entry): the
    rules send it to remote workers; members(bundle path) -> {name:
    (digest, size)}: given, each bundle counts as its members (the minimum);
    known: digests the CAS has already (an earlier build's)."""
    remote = [e for e in entries if remotable(e)]
    made = {_digest(o)[0] for e in remote for o in e.get("actualOutputs", [])} | set(known)
    blobs: dict[str, tuple[int, str]] = {}
    split = set(bundles(entries)) if members else set()
    for e in remote:
        for i in e.get("inputs", []):
            digest, size = _digest(i)
            if digest in made:
                continue
            if i["path"] in split:
                for d, s in members(i["path"]).values():
                    if d not in made:
                        blobs[d] = (s, OUTPUTS)
                continue
            blobs[digest] = (size, kind_of(i["path"]))
    for e in entries:
        if remotable(e):
            continue
        for o in e.get("actualOutputs", []):
            digest, size = _digest(o)
            if o["path"] in split:
                continue  # counted as its members, where a BE reads it
            if digest not in made:
                blobs[digest] = (size, OUTPUTS)
    return Upload(blobs)
