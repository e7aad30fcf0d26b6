"""Thin-link launcher: runs ld.lld, then writes each object's import bundle.

  python3 import_bundles.py --manifest=MANIFEST --fe_dir=FE_DIR \\
      --scratch=SCRATCH --nm=NM --ld=LD -- LD_ARGS... (e.g. @PARAMS)

The thin link runs inside FE_DIR, the FE's output directory, so every module
is named by its short objtree path (kernel/sys.o).  The linker writes an
index (X.o.thinlto.bc) and an import list (X.o.imports) per bitcode object
into SCRATCH (the params name it relative to FE_DIR).

MANIFEST has one line per bitcode object: its module name and its bundle
(both tab-separated; the bundle relative to the execroot).  Each bundle is
one deterministic tar holding the object's index, its import list and
exactly the bitcode the list names, under their module names: the backend
declares the bundle and its own bitcode and nothing else.  One file per
object keeps the thin link's outputs few (Bazel creates, digests and deletes
each output file; a directory per object with a file per import cost
seconds on every edit).  SCRATCH is removed afterwards.

When the link fails without naming an input (ld.lld reports some corrupt
bitcode as just "Invalid abbrev number"), NM (llvm-nm) finds and names the
module that cannot be read.  The bundle format is tools/kthinlto/bundle.py's.
Stdlib only: an action tool, run by the toolchain's declared interpreter.
"""

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys

# Run as a script: the ruleset's root (three levels up) holds the package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
from tools.kthinlto import bundle  # noqa: E402
from tools.kthinlto.actions import action_env  # noqa: E402


def fail(msg: str) -> None:
    print(f"kthinlto thin link: error: {msg}", file=sys.stderr)
    sys.exit(1)


def read_manifest(path: str) -> list[tuple[str, str]]:
    with open(path) as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]


def imported_modules(imports_path: str) -> list[str]:
    with open(imports_path) as f:
        return [line.strip() for line in f if line.strip()]


def absolute(word: str) -> str:
    """A tool path or @params file made absolute for another cwd."""
    if word.startswith("@"):
        return "@" + os.path.abspath(word[1:])
    return os.path.abspath(word) if "/" in word else word


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def unreadable_module(nm: str, fe_dir: str, modules: list[str]) -> str | None:
    """The first module llvm-nm cannot read, with its complaint."""
    for module in modules:
        proc = subprocess.run([nm, module], cwd=fe_dir, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            # "<path of llvm-nm>: error: <module>: <why>" -> "<why>"
            lines = proc.stderr.strip().splitlines()
            why = lines[-1].split("error: ", 1)[-1] if lines else "unreadable"
            return f"{module}: {why.removeprefix(module + ': ')}"
    return None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="import_bundles.py",
        description="Runs the thin link, then writes each object's import bundle.")
    parser.add_argument("--manifest", required=True,
                        help="module<TAB>bundle per line, one per bitcode object")
    parser.add_argument("--fe_dir", required=True, help="the FE output directory (the link's cwd)")
    parser.add_argument("--scratch", required=True, help="where lld writes indexes and import lists")
    parser.add_argument("--nm", required=True, help="llvm-nm, to name an unreadable module")
    parser.add_argument("--ld", required=True, help="ld.lld")
    parser.add_argument("ld_args", nargs="*", help="the link's arguments (after --)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    manifest, fe_dir, scratch, nm, ld, params = (
        args.manifest, args.fe_dir, args.scratch, args.nm, args.ld, args.ld_args)
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    try:
        # The toolchain's lib/ is named relative to the execroot, the cwd.
        env = action_env.absolute_library_path(dict(os.environ), os.getcwd())
        proc = subprocess.run([absolute(ld)] + [absolute(p) for p in params],
                              cwd=fe_dir, env=env, stderr=subprocess.PIPE, text=True)
        sys.stderr.write(proc.stderr)
        entries = read_manifest(manifest)
        if proc.returncode != 0:
            modules = [module for module, _ in entries]
            if not any(m in proc.stderr for m in modules):
                bad = unreadable_module(absolute(nm), fe_dir, modules)
                if bad:
                    fail(f"not valid bitcode: {bad} (in {fe_dir}); rebuild it "
                         "from its source")
            return proc.returncode
        known = {module for module, _ in entries}
        jobs = []
        for module, out in entries:
            imports = imported_modules(os.path.join(scratch, module + bundle.IMPORTS))
            for imported in imports:
                if imported not in known:
                    fail(f"the index of {module} imports {imported}, which is "
                         "not a bitcode object of this build")
            jobs.append((out, module, sorted(imports)))
        # Each imported module's tar segment is made once: popular modules
        # are in hundreds of bundles (on defconfig mm/slab_common.o is in
        # 1094 of 2654), which share its buffers.
        segments = {m: bundle.tar_member(m, read_file(os.path.join(fe_dir, m)))
                    for m in sorted({m for _, module, imports in jobs
                                     for m in imports if m != module})}
        # The thin link is the only action running (every BE waits for it):
        # one writer per core; writev copies in the kernel, without the GIL.
        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(lambda job: bundle.write(job[0], job[1], scratch, segments, job[2]),
                          jobs))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
