"""A build's actions as a graph of measured durations: its critical path, and
what the same graph would take on other machines.

Pure functions over `Task`s (one per action that ran): what each waits for,
how long it took, and where it may run.  The simulation is the list
scheduling Bazel does: an action starts as soon as every action it waits for
has finished and a slot of its pool is free, the ready actions taken first
come, first served (ties in the order the build started them).  A pool is
the local machine (`LOCAL`: actions the rules keep local, and every action of
a local build) or the remote workers (`REMOTE`); a remote action pays a fixed
overhead on top of its measured time (round trip, input transfer).
"""

import dataclasses
import heapq
import math

LOCAL = "local"
REMOTE = "remote"


@dataclasses.dataclass(frozen=True)
class Task:
    """One action that ran.

    name: its primary output (what Bazel's profile names it by); phase: its
    ThinLTO phase (buildgraph.PHASES); duration: seconds it took; deps: the
    names of the tasks it waits for (those that ran in the same build);
    remotable: whether the rules let it run on a remote worker; start:
    seconds from the build's first action at which it started (its order
    among ready tasks).
    """
    name: str
    phase: str
    duration: float
    deps: tuple[str, ...] = ()
    remotable: bool = False
    start: float = 0.0


@dataclasses.dataclass(frozen=True)
class Placed:
    """A task as a schedule runs it: when it starts and ends, on which slot
    of which pool."""
    task: Task
    start: float
    end: float
    pool: str
    slot: int


def _order(tasks: list[Task]) -> list[Task]:
    """The tasks in an order where every task comes after what it waits for;
    a dependency on a task not in the list is an error."""
    by_name = {t.name: t for t in tasks}
    state: dict[str, int] = {}
    out: list[Task] = []
    for root in tasks:
        stack = [(root, False)]
        while stack:
            t, done = stack.pop()
            if done:
                state[t.name] = 2
                out.append(t)
                continue
            if state.get(t.name):
                if state[t.name] == 1:
                    raise ValueError(f"{t.name}: waits for itself (a cycle)")
                continue
            state[t.name] = 1
            stack.append((t, True))
            for d in t.deps:
                if d not in by_name:
                    raise ValueError(f"{t.name}: waits for {d}, which is not a task")
                if state.get(d) == 1:
                    raise ValueError(f"{t.name}: waits for {d}, which waits for it (a cycle)")
                if not state.get(d):
                    stack.append((by_name[d], False))
    return out


def critical_path(tasks: list[Task]) -> list[Task]:
    """The chain of tasks, each waiting for the one before, whose durations
    add up to the most: no number of workers finishes the build sooner."""
    if not tasks:
        return []
    finish: dict[str, float] = {}
    before: dict[str, str | None] = {}
    for t in _order(tasks):
        prev = max(t.deps, key=lambda d: finish[d], default=None)
        before[t.name] = prev
        finish[t.name] = (finish[prev] if prev else 0.0) + t.duration
    by_name = {t.name: t for t in tasks}
    name: str | None = max(finish, key=lambda n: finish[n])
    path = []
    while name:
        path.append(by_name[name])
        name = before[name]
    return path[::-1]


def length(path: list[Task]) -> float:
    return sum(t.duration for t in path)


def simulate(tasks: list[Task], slots: dict[str, int],
             overhead: dict[str, float] | None = None,
             pool=lambda t: REMOTE if t.remotable else LOCAL) -> list[Placed]:
    """Runs the tasks on `slots[pool]` slots per pool (math.inf: as many as
    there are tasks), each task on pool(task), paying overhead[pool] on top
    of its duration; returns every task as placed."""
    overhead = overhead or {}
    order = _order(tasks)
    rank = {t.name: i for i, t in enumerate(sorted(order, key=lambda t: t.start))}
    waiting = {t.name: len(set(t.deps)) for t in order}
    users: dict[str, list[Task]] = {t.name: [] for t in order}
    for t in order:
        for d in set(t.deps):
            users[d].append(t)
    pools = {pool(t) for t in order}
    for p in pools:
        if slots.get(p, 0) < 1:
            raise ValueError(f"no slot for the {p} pool")
    # Per pool: the ready tasks (when they became ready, their rank) and
    # the free slots (lowest first).
    ready: dict[str, list] = {p: [] for p in pools}
    free: dict[str, list[int]] = {
        p: list(range(min(len(order), slots[p]) if math.isinf(slots[p]) else slots[p]))
        for p in pools}
    running: list = []  # (end, rank, task name, pool, slot)
    for t in order:
        if not waiting[t.name]:
            heapq.heappush(ready[pool(t)], (0.0, rank[t.name], t))
    placed: list[Placed] = []
    now = 0.0
    while True:
        for p in pools:
            while ready[p] and free[p]:
                _, r, t = heapq.heappop(ready[p])
                slot = heapq.heappop(free[p])
                end = now + t.duration + overhead.get(p, 0.0)
                placed.append(Placed(t, now, end, p, slot))
                heapq.heappush(running, (end, r, t.name, p, slot))
        if not running:
            break
        now, _, name, p, slot = heapq.heappop(running)
        heapq.heappush(free[p], slot)
        for u in users[name]:
            waiting[u.name] -= 1
            if not waiting[u.name]:
                heapq.heappush(ready[pool(u)], (now, rank[u.name], u))
    return placed


def wall(placed: list[Placed]) -> float:
    """When the last task of a schedule ends."""
    return max((p.end for p in placed), default=0.0)


def local_wall(tasks: list[Task], jobs: int) -> float:
    """The wall time of the tasks on one machine running `jobs` at a time."""
    return wall(simulate(tasks, {LOCAL: jobs}, pool=lambda t: LOCAL))


def remote_wall(tasks: list[Task], workers: int, local_jobs: int,
                overhead: float) -> float:
    """The wall time with `workers` remote slots for the remotable tasks
    (each paying `overhead` seconds more) and `local_jobs` for the others."""
    return wall(simulate(tasks, {REMOTE: workers, LOCAL: local_jobs},
                         {REMOTE: overhead}))


def peak_concurrency(tasks: list[Task]) -> int:
    """The most tasks that ran at once, from their measured start and
    duration: the slots (Bazel's --jobs) the measured build ran on."""
    events = sorted([(t.start, 1) for t in tasks] + [(t.start + t.duration, -1) for t in tasks],
                    key=lambda e: (e[0], e[1]))
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak

