"""What bench.compare prints: figures side by side, and the edit's backends."""


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
    print(f"{'':40} {'kthinlto':>10} {'Kbuild':>10} {'ratio':>7}")
    for name, ours, theirs in rows:
        print(f"{name:40} {ours:9.1f}s {theirs:9.1f}s {ratio(ours, theirs):>7}")
