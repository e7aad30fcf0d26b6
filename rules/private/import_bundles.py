#!/usr/bin/env python3
"""Thin-link launcher: runs ld.lld, then writes each object's import bundle.

  import_bundles.py MANIFEST FE_DIR SCRATCH NM LD @PARAMS

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
module that cannot be read.  Stdlib only: an action tool.
"""

import concurrent.futures
import os
import shutil
import subprocess
import sys
import tarfile

IOV_MAX = 1024


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


def tar_member(name: str, data: bytes) -> list[bytes]:
    """One member as tarfile's GNU format writes it, with fixed metadata
    (the same inputs give the same bytes): header, data, padding."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    return [info.tobuf(tarfile.GNU_FORMAT, tarfile.ENCODING, "surrogateescape"),
            data, bytes(-len(data) % tarfile.BLOCKSIZE)]


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def write_bundle(bundle: str, module: str, scratch: str,
                 segments: dict[str, list[bytes]], imports: list[str]) -> None:
    """One bundle: index, import list, then the imported bitcode; ends as
    tarfile ends an archive (two zero blocks, padding to a whole record).
    Written with one writev of shared buffers."""
    os.makedirs(os.path.dirname(bundle) or ".", exist_ok=True)
    parts: list[bytes] = []
    for suffix in (".thinlto.bc", ".imports"):
        parts += tar_member(module + suffix, read_file(os.path.join(scratch, module + suffix)))
    for m in imports:
        if m != module:
            parts += segments[m]
    size = sum(len(p) for p in parts) + 2 * tarfile.BLOCKSIZE
    parts.append(bytes(2 * tarfile.BLOCKSIZE + (-size % tarfile.RECORDSIZE)))
    parts = [p for p in parts if p]
    out = os.open(bundle, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        # writev may write less than asked (and takes at most IOV_MAX
        # buffers): go on from where it stopped.
        while parts:
            done = os.writev(out, parts[:IOV_MAX])
            while parts and done >= len(parts[0]):
                done -= len(parts.pop(0))
            if done:
                parts[0] = parts[0][done:]
    finally:
        os.close(out)


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


def main(argv: list[str]) -> int:
    manifest, fe_dir, scratch, nm, ld, params = (
        argv[1], argv[2], argv[3], argv[4], argv[5], argv[6:])
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    try:
        env = dict(os.environ)
        if env.get("LD_LIBRARY_PATH"):
            # The toolchain's lib/ is named relative to the execroot.
            env["LD_LIBRARY_PATH"] = ":".join(
                os.path.abspath(d) for d in env["LD_LIBRARY_PATH"].split(":"))
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
        for module, bundle in entries:
            imports = imported_modules(os.path.join(scratch, module + ".imports"))
            for imported in imports:
                if imported not in known:
                    fail(f"the index of {module} imports {imported}, which is "
                         "not a bitcode object of this build")
            jobs.append((bundle, module, sorted(imports)))
        # Each imported module's tar segment is made once: popular modules
        # are in hundreds of bundles (on defconfig mm/slab_common.o is in
        # 1094 of 2654), which share its buffers.
        segments = {m: tar_member(m, read_file(os.path.join(fe_dir, m)))
                    for m in sorted({m for _, module, imports in jobs
                                     for m in imports if m != module})}
        # The thin link is the only action running (every BE waits for it):
        # one writer per core; writev copies in the kernel, without the GIL.
        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(lambda job: write_bundle(job[0], job[1], scratch, segments, job[2]),
                          jobs))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
