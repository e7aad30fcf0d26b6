"""What one Bazel build did, as `schedule.Task`s: Bazel's action graph
(`bazel aquery --output=jsonproto`) joined with its JSON profile.

The profile has an "action processing" event per action the build ran, named
by the action's primary output (`--experimental_profile_include_primary_output`;
Bazel 4.2.3 names no mnemonic); the action graph says which mnemonic writes
each output, what each action reads, and which actions the rules keep off
remote workers (execution requirements).  An action waits for the actions
that wrote its inputs; one the build did not run (its result was up to
date) is not waited for.
"""

import dataclasses
import gzip
import json
import re

from tools.kthinlto import execlog
from tools.kthinlto.contract import MNEMONIC
from tools.kthinlto.schedule import Task

# Mnemonic -> phase (contract.MNEMONIC: as the rules name their actions).
PHASES = {
    MNEMONIC["THINLTO_COMPILE"]: "FE",
    MNEMONIC["NATIVE_COMPILE"]: "FE",
    "Symlink": "FE",    # Bazel's own (a prebuilt object put among the FE's)
    MNEMONIC["INITCALL_SCAN"]: "initcall scan",
    MNEMONIC["INITCALL_ORDER"]: "initcall order",
    MNEMONIC["THINLTO_INDEX"]: "thin link",
    MNEMONIC["THINLTO_BACKEND"]: "BE",
    MNEMONIC["RELOCATABLE_LINK"]: "final link",
    MNEMONIC["SYMBOL_ORDER"]: "final link",
    # The Kbuild hand-off after vmlinux.o's final link: link-vmlinux.sh.
    MNEMONIC["KBUILD_TAIL"]: "Kbuild vmlinux",
    # After the modules' final links (rules/private/modules.bzl): Kbuild's
    # modpost, each module's .mod.o and .ko, the install.
    MNEMONIC["MODPOST"]: "modpost",
    MNEMONIC["MODULE_INFO_COMPILE"]: "module .ko",
    MNEMONIC["MODULE_LINK"]: "module .ko",
    MNEMONIC["MODULES_BUILTIN"]: "modules install",
    MNEMONIC["MODULES_INSTALL"]: "modules install",
}

# The phases in the order a build goes through them, for tables and
# pictures; "other" is every action of no ThinLTO phase.
PHASE_ORDER = ("FE", "initcall scan", "initcall order", "thin link", "BE", "final link",
               "Kbuild vmlinux", "modpost", "module .ko", "modules install", "other")

# Makes Bazel write each action's primary output into its profile event,
# and keep every action's event (a slim profile merges short ones).
PROFILE_FLAGS = ("--experimental_profile_include_primary_output", "--noslim_profile")

# Execution requirements that keep an action off remote workers.
_LOCAL_ONLY = ("no-remote", "no-remote-exec", "local")


# An absolute path anywhere in a command-line word: at its start, after a
# separator (-fmap=/x, -Wa,-I/x, a:/x, ;/x, @/x, -DX="/x", a shell line's
# "cd /x") or joined to a flag that takes a path (-I/x, -isystem/x, -L/x,
# -MF/x, also inside -Wa,/-Wl,/-Wp, lists).  A relative path never matches:
# its slashes follow a name; nor does a double slash (sed's `s/x=//p` in a
# saved command, a URL's `://`).
_JOINED = ("I|L|B|F|o|isystem|idirafter|iquote|isysroot|imacros|include|iprefix|"
           "iwithprefix|iwithprefixbefore|MF|MT|MQ")
_ABSOLUTE = re.compile(rf"(?:^|[\s=,:;@\"'(]|(?:^|[\s,])-(?:{_JOINED}))/(?!/)")


def host_path_words(words, forbidden=()) -> list[str]:
    """The words that name an absolute path or contain one of forbidden."""
    return [w for w in words if _ABSOLUTE.search(w) or any(p in w for p in forbidden)]


# The one host path an action may name: a fixed PATH of the system's own
# directories, for the local actions that run the host's /bin/sh and the
# tools Kbuild's saved commands name (docs/guarantees.md).
SYSTEM_PATH_DIRS = ("/bin", "/usr/bin", "/usr/local/bin")


def action_host_paths(aquery: dict, forbidden=()) -> list[str]:
    """"mnemonic: word" for each argument or environment value of each
    action of `bazel aquery --output=jsonproto` that names a host path
    (host_path_words), but for a PATH of SYSTEM_PATH_DIRS."""
    bad = []
    for a in aquery.get("actions", []):
        words = list(a.get("arguments", []))
        for e in a.get("environmentVariables", []):
            if e["key"] == "PATH" and all(d in SYSTEM_PATH_DIRS for d in e["value"].split(":")):
                continue
            words.append(e["value"])
        bad += [f"{a['mnemonic']}: {w}" for w in host_path_words(words, forbidden)]
    return bad


def phase_of(mnemonic: str) -> str:
    return PHASES.get(mnemonic, "other")


@dataclasses.dataclass(frozen=True)
class Action:
    """One action of the graph: its mnemonic, outputs and inputs (exec
    paths), and whether it may run remotely."""
    mnemonic: str
    outputs: tuple[str, ...]
    inputs: frozenset[str]
    remotable: bool


def actions_of(aquery: dict) -> list[Action]:
    """The actions of `bazel aquery --output=jsonproto`."""
    paths = execlog.artifact_paths(aquery)
    depsets = {d["id"]: d for d in aquery.get("depSetOfFiles", [])}
    flat: dict[int, frozenset[str]] = {}

    def files(dsid: int) -> frozenset[str]:
        # Iterative, memoized: depsets nest deeply (one per header set).
        stack = [dsid]
        while stack:
            d = stack[-1]
            if d in flat:
                stack.pop()
                continue
            todo = [t for t in depsets[d].get("transitiveDepSetIds", []) if t not in flat]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            s = {paths[a] for a in depsets[d].get("directArtifactIds", [])}
            for t in depsets[d].get("transitiveDepSetIds", []):
                s |= flat[t]
            flat[d] = frozenset(s)
        return flat[dsid]

    result = []
    for a in aquery.get("actions", []):
        reqs = {kv.get("key", "") for kv in a.get("executionInfo", [])}
        inputs: frozenset[str] = frozenset()
        for d in a.get("inputDepSetIds", []):
            inputs |= files(d)
        result.append(Action(a["mnemonic"], tuple(paths[i] for i in a.get("outputIds", [])),
                             inputs, not reqs & set(_LOCAL_ONLY)))
    return result


def load_profile(path: str) -> dict:
    """A Bazel JSON profile, gzipped or not (whatever its name says)."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    with (gzip.open if gzipped else open)(path, "rt") as f:
        data = json.load(f)
    return data if isinstance(data, dict) else {"traceEvents": data}


def action_events(profile: dict) -> list[dict]:
    return [e for e in profile["traceEvents"]
            if e.get("ph") == "X" and e.get("cat") == "action processing"]


# Bazel's own action of every build, null builds included (it writes
# bazel-out/stable-status.txt): not one the build's targets asked for.
_STATUS = "BazelWorkspaceStatusAction"


def ran_actions(profile: dict) -> bool:
    """Whether the profiled command ran any action of its targets."""
    return any(not e.get("name", "").startswith(_STATUS) for e in action_events(profile))


@dataclasses.dataclass(frozen=True)
class Build:
    """A build's tasks (seconds from its first action), what each action
    was (task name -> Action; None for one the graph does not have), and
    when its first action started and its last ended, from the profile's
    start."""
    tasks: list[Task]
    actions: dict[str, Action | None]
    first: float
    last: float

    def mnemonic(self, task: str) -> str:
        a = self.actions.get(task)
        return a.mnemonic if a else "?"

    @property
    def span(self) -> float:
        """The wall time from the first action's start to the last one's end."""
        return self.last - self.first


def build_of(profile: dict, actions: list[Action]) -> Build:
    """The actions the profiled build ran, as tasks: each named by its
    primary output (an event without one, or with an output no action of
    the graph writes, is a task of phase "other" that waits for nothing),
    waiting for the tasks that wrote its inputs."""
    writer = {o: i for i, a in enumerate(actions) for o in a.outputs}
    ran: dict[str, dict] = {}
    for e in action_events(profile):
        out = e.get("args", {}).get("out") or e.get("out") or ""
        if out not in ran or e["dur"] > ran[out]["dur"]:  # twice: the longer
            ran[out] = e
    first = min((e["ts"] for e in ran.values()), default=0) / 1e6
    last = max((e["ts"] + e["dur"] for e in ran.values()), default=0) / 1e6
    # action index -> the task that ran it
    task_of = {writer[o]: o for o in ran if o in writer}
    tasks, what = [], {}
    for out, e in ran.items():
        i = writer.get(out)
        a = actions[i] if i is not None else None
        deps = sorted({task_of[writer[p]] for p in (a.inputs if a else ())
                       if writer.get(p) in task_of and writer[p] != i})
        tasks.append(Task(out, phase_of(a.mnemonic if a else ""), e["dur"] / 1e6,
                          tuple(deps), a.remotable if a else False, e["ts"] / 1e6 - first))
        what[out] = a
    tasks.sort(key=lambda t: t.start)
    return Build(tasks, what, first, last)
