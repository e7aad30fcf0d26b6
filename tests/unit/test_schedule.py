"""The critical path and the simulated wall time on small hand-made graphs."""

import math

import pytest

from tools.kthinlto import schedule
from tools.kthinlto.schedule import (LOCAL, REMOTE, Task, critical_path, length, local_wall,
                                     remote_wall, simulate, wall)


def chain() -> list[Task]:
    """a -> b -> c: 1 + 2 + 3 s."""
    return [Task("a", "FE", 1.0), Task("b", "thin link", 2.0, ("a",)),
            Task("c", "BE", 3.0, ("b",))]


def fan_out(n: int = 8) -> list[Task]:
    """One 2 s thin link, then n 1 s backends, then a 3 s link: the shape of
    a ThinLTO build."""
    be = [Task(f"be{i}", "BE", 1.0, ("index",), remotable=True, start=2 + i) for i in range(n)]
    return [Task("index", "thin link", 2.0), *be,
            Task("link", "final link", 3.0, tuple(b.name for b in be), start=100)]


def diamond() -> list[Task]:
    """top -> (left 5 s, right 1 s) -> bottom."""
    return [Task("top", "FE", 1.0), Task("left", "BE", 5.0, ("top",)),
            Task("right", "BE", 1.0, ("top",)), Task("bottom", "final link", 2.0, ("left", "right"))]


def test_chain_critical_path_is_every_task_and_no_slot_helps():
    assert [t.name for t in critical_path(chain())] == ["a", "b", "c"]
    assert length(critical_path(chain())) == 6.0
    assert local_wall(chain(), 1) == 6.0
    assert local_wall(chain(), 100) == 6.0


def test_fan_out_takes_a_round_per_slot_count():
    tasks = fan_out(8)
    assert length(critical_path(tasks)) == 2 + 1 + 3
    assert local_wall(tasks, 1) == 2 + 8 + 3
    assert local_wall(tasks, 2) == 2 + 4 + 3
    assert local_wall(tasks, 3) == 2 + 3 + 3  # 8 backends in 3 rounds
    assert local_wall(tasks, 8) == 2 + 1 + 3
    assert local_wall(tasks, 1000) == 2 + 1 + 3


def test_remote_backends_pay_the_overhead_and_local_tasks_stay_local():
    tasks = fan_out(8)
    # The thin link and the link are local (one slot); 4 workers take the
    # 8 backends in two rounds of 1 + 0.5 s.
    assert remote_wall(tasks, 4, 1, 0.5) == 2 + 2 * 1.5 + 3
    placed = simulate(tasks, {REMOTE: 4, LOCAL: 1}, {REMOTE: 0.5})
    assert {p.pool for p in placed if p.task.phase == "BE"} == {REMOTE}
    assert {p.pool for p in placed if p.task.phase != "BE"} == {LOCAL}
    assert remote_wall(tasks, math.inf, 1, 0.0) == length(critical_path(tasks))


def test_diamond_critical_path_takes_the_long_side():
    assert [t.name for t in critical_path(diamond())] == ["top", "left", "bottom"]
    assert local_wall(diamond(), 2) == 1 + 5 + 2
    # One slot: left and right one after the other.
    assert local_wall(diamond(), 1) == 1 + 5 + 1 + 2


def test_no_task_starts_before_what_it_waits_for_ends():
    placed = {p.task.name: p for p in simulate(fan_out(5), {LOCAL: 2, REMOTE: 3})}
    for p in placed.values():
        for d in p.task.deps:
            assert placed[d].end <= p.start
    # No slot runs two tasks at once.
    by_slot: dict = {}
    for p in placed.values():
        by_slot.setdefault((p.pool, p.slot), []).append((p.start, p.end))
    for spans in by_slot.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_ready_tasks_go_first_come_first_served_in_the_builds_order():
    # Two ready tasks, one slot: the one the build started first runs first.
    tasks = [Task("late", "FE", 1.0, start=5.0), Task("early", "FE", 3.0, start=1.0)]
    placed = {p.task.name: p for p in simulate(tasks, {LOCAL: 1}, pool=lambda t: LOCAL)}
    assert placed["early"].start == 0.0 and placed["late"].start == 3.0


def test_an_empty_build_takes_no_time():
    assert wall(simulate([], {LOCAL: 2})) == 0.0
    assert critical_path([]) == []


def test_a_cycle_or_a_missing_task_is_refused_by_name():
    with pytest.raises(ValueError, match="waits for [ab], which waits for it \\(a cycle\\)"):
        critical_path([Task("a", "FE", 1.0, ("b",)), Task("b", "FE", 1.0, ("a",))])
    with pytest.raises(ValueError, match="a: waits for gone, which is not a task"):
        local_wall([Task("a", "FE", 1.0, ("gone",))], 1)


def test_peak_concurrency_is_the_most_tasks_that_ran_at_once():
    tasks = [schedule.Task("a", "FE", 2.0, start=0.0), schedule.Task("b", "FE", 2.0, start=1.0),
             schedule.Task("c", "FE", 1.0, start=2.0), schedule.Task("d", "FE", 1.0, start=3.0)]
    # a [0,2) b [1,3) c [2,3) d [3,4): two at once at most (an end and a
    # start at the same instant do not overlap).
    assert schedule.peak_concurrency(tasks) == 2
    assert schedule.peak_concurrency([]) == 0

