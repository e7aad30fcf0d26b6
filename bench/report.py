"""What bench.compare prints: figures side by side, and the edit's backends."""

# The width of the rows' names ("after a one-line edit of fs/fuse/control.c").
NAME = 44


def _shown(modules: list[str]) -> str:
    return ", ".join(sorted(modules)[:3]) + (", ..." if len(modules) > 3 else "")


def print_reasons(why: dict[str, list[str]], changes: dict[str, list[str]]) -> None:
    for reason, modules in sorted(why.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(modules):5d} re-ran: {reason} changed ({_shown(modules)})")
    print("their objects, against the ones they replaced:")
    for how, modules in sorted(changes.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(modules):5d} {how} ({_shown(modules)})")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "n/a"


def print_rows(rows: list[tuple[str, float, float]]) -> None:
    print(f"{'':{NAME}} {'kthinlto':>10} {'Kbuild':>10} {'ratio':>7}")
    for name, ours, theirs in rows:
        print(f"{name:{NAME}} {ours:9.1f}s {theirs:9.1f}s {ratio(ours, theirs):>7}")


def print_counts(rows: list[tuple[str, int, int]]) -> None:
    """Counts side by side (what each side built), in print_rows' columns."""
    print(f"{'':{NAME}} {'kthinlto':>10} {'Kbuild':>10}")
    for name, ours, theirs in rows:
        print(f"{name:{NAME}} {ours:10d} {theirs:10d}")


def print_backends(rows: list[tuple[str, int, int]], units: int) -> None:
    """BE actions per build, vmlinux.o's and the modules' (in `units` link
    units)."""
    print(f"{'BE actions':{NAME}} {'vmlinux.o':>10} {'modules':>10}")
    for name, vmlinux, modules in rows:
        print(f"{name:{NAME}} {vmlinux:10d} {modules:10d}")
    print(f"{'':{NAME}} {'':10} {f'({units} units)':>10}")


def shown(names: list[str]) -> str:
    """The first names of a list, for a line of the report."""
    return _shown(names)
