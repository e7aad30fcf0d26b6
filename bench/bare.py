"""ThinLTO backends run bare: the BE commands of a built tree, outside Bazel
(bench.backend_cost times them against the same actions in Bazel)."""

import concurrent.futures
import dataclasses
import json
import os
import resource
import subprocess
import time

from tools.kthinlto.actions import action_env


@dataclasses.dataclass(frozen=True)
class Backend:
    bundle: str            # execroot-relative paths, as the action has them
    own: str
    module: str
    argv: tuple[str, ...]  # clang and its arguments, relative to the work dir
    env: tuple[tuple[str, str], ...]

    @property
    def output(self) -> str:
        """The object it writes, execroot-relative (clang's -o, which
        names it from the work directory)."""
        back = self.argv[0][:len(self.argv[0]) - len(self.argv[0].lstrip("./"))]
        for a in self.argv:
            if a.startswith("-o" + back):
                return a[len("-o" + back):]
        raise ValueError(f"{self.module}: no -o in its backend command")


def backend(arguments: list[str], env: dict[str, str]) -> Backend:
    """One ThinLtoBackend action (its aquery arguments and environment):
    backend.sh BUNDLE BITCODE MODULE WORK CLANG ARGS..."""
    if len(arguments) < 6 or not arguments[0].endswith("backend.sh"):
        raise ValueError(f"not a ThinLtoBackend command line: {' '.join(arguments[:3])} ...")
    return Backend(arguments[1], arguments[2], arguments[3], tuple(arguments[5:]),
                   tuple(sorted(env.items())))


def bare_argv(b: Backend, execroot: str, out: str) -> list[str]:
    """b's clang command for a directory outside the execroot: the paths
    that lead back to the execroot (../../..) made absolute, the output
    `out`."""
    back = b.argv[0][:len(b.argv[0]) - len(b.argv[0].lstrip("./"))]
    if not back.endswith("../"):
        raise ValueError(f"{b.module}: clang is not named from its work directory: {b.argv[0]}")
    argv = []
    for a in b.argv:
        if a.startswith("-o" + back):
            argv.append("-o" + out)
        elif a.startswith(back):
            argv.append(os.path.join(execroot, a[len(back):]))
        else:
            argv.append(a)
    return argv


def bare_env(b: Backend, execroot: str) -> dict[str, str]:
    """The action's environment, its execroot-relative library path made
    absolute (as the launcher does)."""
    return action_env.absolute_library_path(dict(b.env), execroot)


def deps_of(targets: tuple[str, ...]) -> str:
    """The query expression of everything the targets need."""
    return " + ".join(f"deps({t})" for t in targets)


def backends(bazel: list[str], ws: str,
             targets: tuple[str, ...] = ("//:vmlinux_o",)) -> list[Backend]:
    """Every ThinLtoBackend action the targets need (vmlinux.o's, and with
    //:modules every module's)."""
    query = f'mnemonic("ThinLtoBackend", {deps_of(targets)})'
    out = subprocess.run(bazel + ["aquery", "--output=jsonproto", query],
                         cwd=ws, check=True, capture_output=True, text=True).stdout
    return [backend(a["arguments"],
                    {e["key"]: e["value"] for e in a.get("environmentVariables", [])})
            for a in json.loads(out).get("actions", [])]


def unpack(b: Backend, execroot: str, work: str) -> None:
    os.makedirs(work)
    subprocess.run(["tar", "-xf", os.path.join(execroot, b.bundle), "-C", work], check=True)
    os.makedirs(os.path.dirname(os.path.join(work, b.module)), exist_ok=True)
    os.symlink(os.path.join(execroot, b.own), os.path.join(work, b.module))


def run_bare(jobs: list[tuple[list[str], dict[str, str], str]], parallel: int
             ) -> tuple[float, float]:
    """Runs (argv, env, cwd) commands `parallel` at a time: wall seconds and
    the CPU seconds (user + system) of the processes."""
    def one(job):
        argv, env, cwd = job
        subprocess.run(argv, env=env, cwd=cwd, check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, jobs))
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def clang_start(clang: str, env: dict[str, str], n: int, scratch: str) -> float:
    """Mean wall seconds of clang compiling an empty IR module."""
    empty = os.path.join(scratch, "empty.ll")
    with open(empty, "w"):
        pass
    argv = [clang, "-x", "ir", "-Wno-override-module", "-c", empty, "-o",
            os.path.join(scratch, "empty.o")]
    subprocess.run(argv, env=env, check=True)  # warm the page cache
    start = time.monotonic()
    for _ in range(n):
        subprocess.run(argv, env=env, check=True)
    return (time.monotonic() - start) / n
