"""The report's picture, as SVG: the build's timeline by phase with the
critical path marked, and the simulated wall time against the number of
remote workers.  Pure functions from figures to text."""

import html
import math

from tools.kthinlto.buildgraph import PHASE_ORDER
from tools.kthinlto.schedule import Task

COLORS = dict(zip(PHASE_ORDER, (
    "#4e79a7", "#b07aa1", "#ff9da7", "#e15759", "#59a14f", "#f28e2b",
    "#9c755f", "#edc948", "#76b7b2", "#d4a6c8", "#bab0ac"), strict=True))
CRITICAL = "#000000"
WIDTH = 960
LANES_HEIGHT = 240   # px the timeline's lanes share (each 3 to 20 px)
MARGIN = 60


def lanes(tasks: list[Task]) -> dict[str, int]:
    """Each task's row in the timeline: the lowest lane free at its start
    (as many lanes as tasks ever ran at once)."""
    ends: list[float] = []
    out = {}
    for t in sorted(tasks, key=lambda t: (t.start, t.name)):
        lane = next((i for i, e in enumerate(ends) if e <= t.start + 1e-9), len(ends))
        if lane == len(ends):
            ends.append(0.0)
        ends[lane] = t.start + t.duration
        out[t.name] = lane
    return out


def _text(x: float, y: float, s: str, size: int = 11, anchor: str = "start") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-family="sans-serif">{html.escape(s)}</text>')


def timeline(tasks: list[Task], critical: set[str], title: str, top: float) -> tuple[list[str], float]:
    """The measured build: one bar per task at its start, its lane's row,
    its phase's colour; the critical path's bars outlined.  Returns the
    elements and the height used."""
    rows = lanes(tasks)
    n = max(rows.values(), default=0) + 1
    row = max(3, min(20, LANES_HEIGHT // n))
    end = max((t.start + t.duration for t in tasks), default=1.0) or 1.0
    scale = (WIDTH - 2 * MARGIN) / end
    out = [_text(MARGIN, top + 14, title, 13)]
    y0 = top + 24
    for t in tasks:
        x, w = MARGIN + t.start * scale, max(t.duration * scale, 0.5)
        y = y0 + rows[t.name] * row
        extra = (f' stroke="{CRITICAL}" stroke-width="1.5"' if t.name in critical else "")
        out.append(f'<rect x="{x:.2f}" y="{y:.1f}" width="{w:.2f}" height="{row - 1}" '
                   f'fill="{COLORS.get(t.phase, COLORS["other"])}"{extra}>'
                   f'<title>{html.escape(f"{t.phase}: {t.name} {t.duration:.2f} s")}</title></rect>')
    axis = y0 + n * row + 4
    out.append(f'<line x1="{MARGIN}" y1="{axis}" x2="{WIDTH - MARGIN}" y2="{axis}" stroke="#000"/>')
    for s in _ticks(end):
        x = MARGIN + s * scale
        out.append(f'<line x1="{x:.1f}" y1="{axis}" x2="{x:.1f}" y2="{axis + 4}" stroke="#000"/>')
        out.append(_text(x, axis + 15, f"{s:g} s", 10, "middle"))
    legend = axis + 32
    x = MARGIN
    for phase in PHASE_ORDER:
        if any(t.phase == phase for t in tasks):
            out.append(f'<rect x="{x}" y="{legend - 9}" width="10" height="10" fill="{COLORS[phase]}"/>')
            out.append(_text(x + 14, legend, phase, 11))
            x += 24 + 7 * len(phase)
    out.append(f'<rect x="{x}" y="{legend - 9}" width="10" height="10" fill="none" '
               f'stroke="{CRITICAL}" stroke-width="1.5"/>')
    out.append(_text(x + 14, legend, "critical path", 11))
    return out, legend + 10 - top


def _ticks(end: float) -> list[float]:
    step = 10 ** math.floor(math.log10(end)) if end > 0 else 1
    if end / step < 4:
        step /= 2
    return [i * step for i in range(int(end / step) + 1)]


def scaling(walls: list[tuple[int, float]], critical: float, top: float) -> tuple[list[str], float]:
    """Simulated wall time against remote workers (log scale), the critical
    path as a dashed floor."""
    h = 180
    out = [_text(MARGIN, top + 14, "simulated wall time against remote workers", 13)]
    y0, y1 = top + 28, top + 28 + h
    most = max([w for _, w in walls] + [critical, 1e-9])
    ns = [n for n, _ in walls]
    lo, hi = math.log10(min(ns)), math.log10(max(ns)) or 1.0

    def x(n: float) -> float:
        return MARGIN + (math.log10(n) - lo) / ((hi - lo) or 1.0) * (WIDTH - 2 * MARGIN)

    def y(s: float) -> float:
        return y1 - s / most * h
    out.append(f'<line x1="{MARGIN}" y1="{y1}" x2="{WIDTH - MARGIN}" y2="{y1}" stroke="#000"/>')
    out.append(f'<line x1="{MARGIN}" y1="{y0}" x2="{MARGIN}" y2="{y1}" stroke="#000"/>')
    out.append(f'<line x1="{MARGIN}" y1="{y(critical):.1f}" x2="{WIDTH - MARGIN}" '
               f'y2="{y(critical):.1f}" stroke="{CRITICAL}" stroke-dasharray="4 3"/>')
    out.append(_text(MARGIN + 6, y(critical) - 4, f"critical path {critical:.1f} s", 10))
    points = " ".join(f"{x(n):.1f},{y(w):.1f}" for n, w in walls)
    out.append(f'<polyline points="{points}" fill="none" stroke="{COLORS["BE"]}" stroke-width="2"/>')
    for n, w in walls:
        out.append(f'<circle cx="{x(n):.1f}" cy="{y(w):.1f}" r="3" fill="{COLORS["BE"]}"/>')
        out.append(_text(x(n), y(w) - 6, f"{w:.0f} s", 10, "middle"))
        out.append(_text(x(n), y1 + 14, f"{n}", 10, "middle"))
    out.append(_text(WIDTH / 2, y1 + 28, "remote workers", 11, "middle"))
    return out, h + 44


def svg(tasks: list[Task], critical: list[Task], walls: list[tuple[int, float]],
        title: str) -> str:
    """The whole picture: the timeline, then the scaling chart."""
    names = {t.name for t in critical}
    first, h1 = timeline(tasks, names, title, 0)
    second, h2 = scaling(walls, sum(t.duration for t in critical), h1 + 20)
    height = h1 + 20 + h2 + 10
    return "\n".join([f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
                      f'height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}">',
                      '<rect width="100%" height="100%" fill="#fff"/>',
                      *first, *second, "</svg>", ""])

