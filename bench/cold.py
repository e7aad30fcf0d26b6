"""bench.compare's cold figures: what each side waits for from a pristine
tree and a config, its parts, and a fresh clone's build with a warm shared
cache (how many of its actions were cache hits: Bazel's process summary)."""

import dataclasses
import re
from collections.abc import Mapping

# Bazel's last line but one: "INFO: 1432 processes: 1210 remote cache hit,
# 222 internal." (4.2.3 counts a --disk_cache hit as a "remote cache hit";
# later Bazels say "disk cache hit"), or "INFO: 1 process: 1 internal.", or
# "INFO: 0 processes."
_SUMMARY = re.compile(r"^INFO: (\d+) process(?:es)?(?:: (.*))?\.$")
_RUNNER = re.compile(r"^(\d+) (.+)$")


@dataclasses.dataclass(frozen=True)
class Processes:
    """A build's processes: how many, and how many each runner took
    ("remote cache hit", "internal", "linux-sandbox", ...)."""
    total: int
    by_runner: dict[str, int]

    @property
    def hits(self) -> int:
        """Taken from a cache, not run."""
        return sum(n for runner, n in self.by_runner.items() if "cache hit" in runner)

    @property
    def internal(self) -> int:
        """Bazel's own (symlinks, files written from memory), never cached."""
        return self.by_runner.get("internal", 0)

    @property
    def executed(self) -> int:
        """Run by a spawn strategy (in a sandbox, locally, remotely)."""
        return self.total - self.hits - self.internal


def processes(stderr: str) -> Processes | None:
    """The process summary of the last build on Bazel's stderr (None if
    there is none)."""
    found = None
    for line in stderr.splitlines():
        m = _SUMMARY.match(line.strip())
        if m:
            found = m
    if not found:
        return None
    by_runner = {}
    for part in filter(None, (found.group(2) or "").split(", ")):
        m = _RUNNER.match(part)
        if not m:
            raise ValueError(f"Bazel's process summary: {part!r} is not '<count> <runner>'")
        by_runner[m.group(2)] = int(m.group(1))
    return Processes(int(found.group(1)), by_runner)


def fresh_env(environ: Mapping[str, str], cache: str, python: str) -> dict[str, str]:
    """The environment of a fresh clone's build: an empty translation cache
    (KTHINLTO_CACHE: no translation to reuse, as on a new machine; the
    kernel repository rule translates again) and the Python the translator
    runs with (KTHINLTO_PYTHON: the empty cache has no virtual environment,
    and making one is not what is measured)."""
    return {**environ, "KTHINLTO_CACHE": cache, "KTHINLTO_PYTHON": python}


@dataclasses.dataclass(frozen=True)
class Cold:
    """Cold seconds, from a pristine tree and a config: kthinlto's
    translation and `bazel build` in a new output base (filling the shared
    disk cache), Kbuild's config and make; a fresh clone's build with that
    cache, the translation made again in it, and its processes."""
    translation: float
    bazel_build: float
    kbuild_config: float
    kbuild_make: float
    fresh: float
    fresh_processes: Processes | None

    @property
    def ours(self) -> float:
        return self.translation + self.bazel_build

    @property
    def kbuild(self) -> float:
        return self.kbuild_config + self.kbuild_make


# The row of the fresh clone's build (bench.report.NAME wide at most).
FRESH_ROW = "fresh clone, warm cache, translation incl."


def rows(c: Cold) -> list[tuple[str, float, float]]:
    """The cold rows, kthinlto against Kbuild: each part (the translation
    against Kbuild's config, the build against its make), their sum, and the
    fresh clone against Kbuild's whole cold build."""
    return [("cold: translation (Kbuild: config)", c.translation, c.kbuild_config),
            ("cold: bazel build (Kbuild: make)", c.bazel_build, c.kbuild_make),
            ("cold, translation included", c.ours, c.kbuild),
            (FRESH_ROW, c.fresh, c.kbuild)]


def describe_processes(p: Processes | None) -> str:
    """The fresh clone's actions, for a line of the report."""
    if p is None:
        return "Bazel printed no process summary"
    return (f"{p.total} processes: {p.hits} cache hits, {p.executed} executed, "
            f"{p.internal} internal (Bazel's own)")


def summary(c: Cold) -> dict:
    """The cold figures for the JSON summary line: [kthinlto, Kbuild] and
    each part."""
    p = c.fresh_processes
    return {
        "cold": [c.ours, c.kbuild],
        "cold_parts": {"translation": c.translation, "bazel_build": c.bazel_build,
                       "kbuild_config": c.kbuild_config, "kbuild_make": c.kbuild_make},
        "fresh_clone": {"seconds": c.fresh,
                        "processes": None if p is None else {
                            "total": p.total, "cache_hits": p.hits,
                            "executed": p.executed, "internal": p.internal}},
    }


def config_differences(kbuild: Mapping[str, str], ours: Mapping[str, str]) -> list[str]:
    """The options two .config files (kbuild.read_config(..., unset=True))
    set differently, as "CONFIG_X: Kbuild's value / kthinlto's value": the
    bench compares only builds of the same configuration."""
    return [f"{k}: {kbuild.get(k, '(absent)')} / {ours.get(k, '(absent)')}"
            for k in sorted(set(kbuild) | set(ours)) if kbuild.get(k) != ours.get(k)]
