"""Reads Bazel's execution log (--execution_log_json_file) into figures.

The JSON log is a stream of SpawnExec messages, one per spawn Bazel ran or
found in a remote/disk cache; actions found in the local action cache do not
appear at all.
"""

import collections
import os
import json


def read(path: str) -> list[dict]:
    """All SpawnExec entries of a JSON execution log."""
    with open(path) as f:
        text = f.read()
    decoder = json.JSONDecoder()
    entries = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return entries
        entry, i = decoder.raw_decode(text, i)
        entries.append(entry)


def outcome(entry: dict) -> str:
    """`cache hit` (remote or disk cache) or `executed` (and where)."""
    if entry.get("remoteCacheHit"):
        return "cache hit"
    return "executed " + entry.get("runner", "?")


def by_phase(entries: list[dict]) -> dict[str, collections.Counter]:
    """mnemonic -> Counter of outcomes."""
    result: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for e in entries:
        result[e.get("mnemonic", "?")][outcome(e)] += 1
    return dict(result)


def figures(entries: list[dict]) -> str:
    """An execution log as a table: per mnemonic, spawns run remotely, run
    locally and found in the remote cache (outcome's wording)."""
    phases = by_phase(entries)
    rows = [f"{'mnemonic':<16} {'remote':>7} {'local':>7} {'cache hit':>9}"]
    for mnemonic in sorted(phases):
        counts = phases[mnemonic]
        remote = counts["executed remote"]
        hits = counts["cache hit"]
        rows.append(f"{mnemonic:<16} {remote:>7} {sum(counts.values()) - remote - hits:>7} {hits:>9}")
    return "\n".join(rows)


def executed(entries: list[dict], mnemonic: str) -> list[dict]:
    return [e for e in entries
            if e.get("mnemonic") == mnemonic and not e.get("remoteCacheHit")]


def outputs(entry: dict) -> list[str]:
    return [o["path"] for o in entry.get("actualOutputs", [])]


def input_paths(entry: dict) -> list[str]:
    return [i["path"] for i in entry.get("inputs", [])]


def artifact_paths(aquery: dict) -> dict[int, str]:
    """artifact id -> exec path, from `bazel aquery --output=jsonproto`
    (Bazel 4 names artifacts by execPath, later ones by pathFragments)."""
    fragments = {f["id"]: f for f in aquery.get("pathFragments", [])}

    def path(artifact: dict) -> str:
        if "execPath" in artifact:
            return artifact["execPath"]
        parts, fid = [], artifact["pathFragmentId"]
        while fid:
            parts.append(fragments[fid]["label"])
            fid = fragments[fid].get("parentId", 0)
        return "/".join(reversed(parts))
    return {a["id"]: path(a) for a in aquery.get("artifacts", [])}


def aquery_outputs(aquery: dict) -> dict[str, list[str]]:
    """mnemonic -> the exec paths of its actions' outputs, from `bazel aquery
    --output=jsonproto`."""
    artifacts = artifact_paths(aquery)
    result = collections.defaultdict(list)
    for action in aquery.get("actions", []):
        result[action["mnemonic"]].extend(artifacts[i] for i in action.get("outputIds", []))
    return dict(result)


def output_dirs(aquery: dict) -> dict[str, str]:
    """mnemonic -> the directory all its outputs are under: how a test or
    the bench finds a phase's files (kernel/sys.o is <dir>/kernel/sys.o)
    from the mnemonic alone, whatever the rules name their targets."""
    return {m: os.path.commonpath([os.path.dirname(p) for p in paths])
            for m, paths in aquery_outputs(aquery).items() if paths}
