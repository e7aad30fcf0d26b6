"""Where a build's time went, per ThinLTO phase, from Bazel's JSON profile.

Bazel's profile (`--profile=FILE --experimental_profile_include_primary_output`)
has one "action processing" event per executed action with its primary
output ("out"); Bazel 4.2.3's profile names no mnemonic, so the bench saves
beside each profile which mnemonic writes which output (from `bazel aquery`,
FILE.mnemonics.json) and the phase of an event is its action's mnemonic's.
For each phase: how many actions ran, the wall-clock span from the first
start to the last end, and the summed action time (PROFILE_FLAGS keep
every action's event: a slim profile would merge short ones).

`python3 -m bench.profiles` prints this for saved profiles.
"""

import json

from tools.kthinlto import buildgraph
from tools.kthinlto.buildgraph import load_profile

# What the bench profiles with (the report's flags).
PROFILE_FLAGS = buildgraph.PROFILE_FLAGS


def mnemonics_path(profile: str) -> str:
    """Where the output -> mnemonic map of a profile is kept."""
    return profile + ".mnemonics.json"


def mnemonics_of(aquery_outputs: dict[str, list[str]]) -> dict[str, str]:
    """output path -> mnemonic, from execlog.aquery_outputs."""
    return {path: m for m, paths in aquery_outputs.items() for path in paths}


def load_mnemonics(profile: str) -> dict[str, str]:
    with open(mnemonics_path(profile)) as f:
        return json.load(f)


def phase_of(event: dict, mnemonics: dict[str, str]) -> str:
    """The phase of a profile's action event, by its action's mnemonic."""
    return buildgraph.phase_of(mnemonics.get(event.get("out", ""), ""))


def load(path: str) -> list[dict]:
    """The events of a profile, gzipped or not (whatever its name says)."""
    return load_profile(path)["traceEvents"]


# The chains of phases each of which waits for the one before (the initcall
# scan and order run beside them): after the final links, vmlinux (Kbuild's
# link-vmlinux.sh) and the modules (modpost needs vmlinux.o only) run side
# by side.
_LINKED = ("FE", "thin link", "BE", "final link")
CHAINS = (_LINKED + ("Kbuild vmlinux",),
          _LINKED + ("modpost", "module .ko", "modules install"))

Row = tuple[str, int, float, float, float, float]


def phases(events: list[dict], mnemonics: dict[str, str]) -> list[Row]:
    """(phase, actions, start, wall span, summed action time, longest
    action), seconds from the profile's start, in the order the phases
    started."""
    spans: dict[str, list[float]] = {}
    for e in events:
        if e.get("ph") != "X" or e.get("cat") != "action processing":
            continue
        start, dur = e["ts"] / 1e6, e["dur"] / 1e6
        phase = phase_of(e, mnemonics)
        s = spans.setdefault(phase, [0, start, start + dur, 0.0, 0.0])
        s[0] += 1
        s[1] = min(s[1], start)
        s[2] = max(s[2], start + dur)
        s[3] += dur
        s[4] = max(s[4], dur)
    rows = [(p, int(n), first, last - first, busy, longest)
            for p, (n, first, last, busy, longest) in spans.items()]
    return sorted(rows, key=lambda r: r[2])


def floor(rows: list[Row], jobs: int) -> float:
    """A lower bound on the build's wall time given its actions' times: the
    longest chain of phases, one after the other, each on `jobs` fully
    used cores (and no shorter than its longest action).  Meaningful for
    an incremental build, whose phases in a chain do not overlap."""
    time = {phase: max(busy / jobs, longest) for phase, _, _, _, busy, longest in rows}
    return max(sum(time.get(p, 0.0) for p in chain) for chain in CHAINS)


def format_phases(rows: list[Row]) -> str:
    return "\n".join(
        f"  {phase:15} {n:5d} actions  from {start:7.1f} s  wall {span:7.1f} s  "
        f"action time {busy:8.1f} s  longest {longest:6.1f} s"
        for phase, n, start, span, busy, longest in rows)


# Bazel's own steps inside one action's "action processing" event.
STEPS = (
    ("action.prepare", "delete its last outputs"),
    ("sandbox.createFileSystem", "make its sandbox"),
    ("subprocess.run", "run its command"),
    ("sandbox.copyOutputs", "move its outputs out of the sandbox"),
    ("actuallyCompleteAction", "digest its outputs"),
)


def action_steps(events: list[dict], phase: str,
                 mnemonics: dict[str, str]) -> list[tuple[str, float]]:
    """Where the longest action of `phase` spent its time: (step, seconds)
    for each of Bazel's STEPS found on its thread within its span."""
    actions = [e for e in events if e.get("ph") == "X"
               and e.get("cat") == "action processing"
               and phase_of(e, mnemonics) == phase]
    if not actions:
        return []
    a = max(actions, key=lambda e: e["dur"])
    start, end = a["ts"], a["ts"] + a["dur"]
    took = dict.fromkeys((name for name, _ in STEPS), 0.0)
    for e in events:
        if (e.get("ph") == "X" and e.get("tid") == a.get("tid") and e.get("name") in took
                and start <= e["ts"] <= end):
            took[e["name"]] += e["dur"] / 1e6
    return [(label, took[name]) for name, label in STEPS if took[name]]


def format_steps(steps: list[tuple[str, float]]) -> str:
    return ", ".join(f"{label} {seconds:.2f} s" for label, seconds in steps)


def report(events: list[dict], mnemonics: dict[str, str], jobs: int,
           incremental: bool) -> str:
    """The phases of one build, the floor (for an incremental build) and
    where its thin link and final link spent their time."""
    rows = phases(events, mnemonics)
    lines = [format_phases(rows)]
    if incremental:
        lines.append(f"  its FE, thin link, BE and final link back to back on "
                     f"{jobs} fully used cores: >= {floor(rows, jobs):.1f} s")
    for phase in ("thin link", "final link"):
        steps = action_steps(events, phase, mnemonics)
        if steps:
            lines.append(f"  its {phase}: {format_steps(steps)}")
    return "\n".join(lines)

