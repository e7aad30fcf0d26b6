"""A build explained: where its time went per phase, its critical path, what
the same graph would take on N remote workers, and what a remote build of
it moves.

Reads what one build left: Bazel's JSON profile (every action's start and
duration, by primary output), the action graph from `bazel aquery` (what
each action waits for, which the rules keep local) and, if given, its
execution log (how each action ran, and every input's digest and size).

The simulation replays the measured durations on other machines
(schedule.py): first on the measured build's own slots, which checks it
against the wall time the build took, then with N remote workers for the
remotable actions (each paying an overhead for its round trip and inputs)
and the local slots for the rest.  Pure functions; `./kthin report`
(report_main.py) is the command.
"""

import collections
import os

from tools.kthinlto import bundle, buildgraph, execlog, schedule, traffic

MB = 1e6


def phase_rows(build: buildgraph.Build, entries: list[dict]) -> list[dict]:
    """Per phase: actions, how they ran (with an execution log), action
    time, wall span from its first start to its last end, longest."""
    how: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for e in entries:
        how[buildgraph.phase_of(e.get("mnemonic", ""))][execlog.outcome(e)] += 1
    rows = []
    for phase in buildgraph.PHASE_ORDER:
        ts = [t for t in build.tasks if t.phase == phase]
        if not ts:
            continue
        rows.append({
            "phase": phase, "actions": len(ts),
            "remote": how[phase]["executed remote"], "cache hit": how[phase]["cache hit"],
            "local": sum(how[phase].values()) - how[phase]["executed remote"]
            - how[phase]["cache hit"],
            "time": sum(t.duration for t in ts),
            "span": max(t.start + t.duration for t in ts) - min(t.start for t in ts),
            "longest": max(t.duration for t in ts),
        })
    return rows


def format_phases(rows: list[dict], with_log: bool) -> str:
    head = f"  {'phase':15} {'actions':>7}"
    if with_log:
        head += f" {'local':>6} {'remote':>6} {'cached':>6}"
    head += f" {'action time':>12} {'wall span':>10} {'longest':>8}"
    lines = [head]
    for r in rows:
        line = f"  {r['phase']:15} {r['actions']:7d}"
        if with_log:
            line += f" {r['local']:6d} {r['remote']:6d} {r['cache hit']:6d}"
        line += f" {r['time']:11.1f}s {r['span']:9.1f}s {r['longest']:7.2f}s"
        lines.append(line)
    return "\n".join(lines)


def format_path(path: list[dict]) -> str:
    lines = [f"critical path: {sum(t['seconds'] for t in path):.1f} s in {len(path)} actions "
             f"(no number of workers finishes these actions sooner)"]
    for t in path:
        lines.append(f"  {t['seconds']:8.2f} s  {t['mnemonic']:16} {t['output']}")
    return "\n".join(lines)


def format_simulations(walls: list[tuple[int, float]], critical: float, jobs: int,
                       overhead: float) -> str:
    lines = [f"the same actions with N remote workers (remotable actions + {overhead:g} s "
             f"each; the rest on {jobs} local slots):",
             f"  {'N':>6} {'wall':>9} {'x critical path':>16}"]
    for n, w in walls:
        lines.append(f"  {n:6d} {w:8.1f}s {w / critical if critical else 0:16.2f}")
    return "\n".join(lines)


def format_bytes(b: dict) -> str:
    kinds = (traffic.SOURCES, traffic.OUTPUTS, traffic.TOOLS)
    lines = ["bytes the actions declare as inputs, per phase (each action's, summed), MB:",
             f"  {'phase':15} " + " ".join(f"{k:>24}" for k in kinds)]
    for phase, per in b["declared"].items():
        lines.append(f"  {phase:15} " + " ".join(f"{per.get(k, 0) / MB:24.1f}" for k in kinds))
    up = b["upload"]
    lines.append(f"a remote build of these actions uploads {up['bytes'] / MB:.1f} MB "
                 f"({up['blobs']} distinct blobs), {up['kernel_bytes'] / MB:.1f} MB of "
                 f"them the kernel's (the toolchain and tools go once, whatever the kernel):")
    for kind in kinds:
        lines.append(f"  {kind:28} {up['by_kind'].get(kind, 0) / MB:10.1f} MB")
    if "minimum_kernel_bytes" in b:
        lines.append(
            f"the minimum, each bundle taken apart (its index and import list; its "
            f"bitcode is the FE's outputs, already sent): "
            f"{b['minimum_kernel_bytes'] / MB:.1f} MB of the kernel's; uploaded / minimum = "
            f"{up['kernel_bytes'] / max(1, b['minimum_kernel_bytes']):.2f}")
    return "\n".join(lines)


def bytes_figures(entries: list[dict], minimum: traffic.Upload | None) -> dict:
    up = traffic.upload(entries)
    declared = traffic.declared_bytes(entries)
    out = {"declared": {p: declared[p] for p in buildgraph.PHASE_ORDER if p in declared},
           "upload": {"bytes": up.bytes, "kernel_bytes": up.kernel_bytes,
                      "blobs": len(up.blobs), "by_kind": up.by_kind()}}
    if minimum is not None:
        out["minimum_kernel_bytes"] = minimum.kernel_bytes
    return out


def bundle_members(execroot: str):
    """bundle path -> its members (digest, size), read from the execroot."""
    def members(path: str) -> dict[str, tuple[str, int]]:
        return bundle.members(os.path.join(execroot, path))
    return members


def bazel_critical_path(profile: dict) -> float:
    """The length of the critical path Bazel itself found (its profile's
    "critical path component" events)."""
    return sum(e["dur"] for e in profile["traceEvents"]
               if e.get("cat") == "critical path component") / 1e6


def figures(profile: dict, build: buildgraph.Build, entries: list[dict],
            minimum: traffic.Upload | None, jobs: int, remote_slots: int,
            workers: list[int], overhead: float) -> dict:
    """Everything the report says, as data (--json writes it)."""
    path = schedule.critical_path(build.tasks)
    if remote_slots:
        own = schedule.remote_wall(build.tasks, remote_slots, jobs, 0.0)
    else:
        own = schedule.local_wall(build.tasks, jobs)
    out = {
        "actions": len(build.tasks),
        "command_seconds": profile_total(profile),
        "before_first_action": build.first,
        "measured": build.span,
        "phases": phase_rows(build, entries),
        "critical_path": [{"seconds": t.duration, "output": t.name,
                           "mnemonic": build.mnemonic(t.name)} for t in path],
        "critical_path_seconds": schedule.length(path),
        "bazel_critical_path_seconds": bazel_critical_path(profile),
        "jobs": jobs, "remote_slots": remote_slots, "overhead": overhead,
        "simulated_own_slots": own,
        "simulated": [[n, schedule.remote_wall(build.tasks, n, jobs, overhead)] for n in workers],
    }
    if entries:
        out["bytes"] = bytes_figures(entries, minimum)
    return out


def text(f: dict) -> str:
    """The report's text, from figures()."""
    where = (f"{f['remote_slots']} remote slots and {f['jobs']} local" if f["remote_slots"]
             else f"{f['jobs']} local slots")
    lines = [
        f"{f['actions']} actions ran; the whole command took {f['command_seconds']:.1f} s, "
        f"of which {f['before_first_action']:.1f} s before the first action (loading, "
        f"analysis, repository rules such as the translation) and {f['measured']:.1f} s "
        f"from the first action to the last",
        format_phases(f["phases"], any(r["local"] or r["remote"] or r["cache hit"]
                                      for r in f["phases"])),
        format_path(f["critical_path"]),
        f"Bazel's own critical path (its profile): {f['bazel_critical_path_seconds']:.1f} s",
        f"simulated on the build's own {where}: {f['simulated_own_slots']:.1f} s; measured "
        f"{f['measured']:.1f} s (first action to last); simulated / measured = "
        f"{f['simulated_own_slots'] / f['measured'] if f['measured'] else 0:.3f}",
        format_simulations([tuple(w) for w in f["simulated"]], f["critical_path_seconds"],
                           f["jobs"], f["overhead"]),
    ]
    if "bytes" in f:
        lines.append(format_bytes(f["bytes"]))
    return "\n".join(lines)


def profile_total(profile: dict) -> float:
    """The profiled command's wall time, from its first event to its last."""
    xs = [e for e in profile["traceEvents"] if "ts" in e]
    return (max(e["ts"] + e.get("dur", 0) for e in xs) - min(e["ts"] for e in xs)) / 1e6
