"""Exact header inputs of every compile, from clang-scan-deps.

clang-scan-deps preprocesses each recorded command line (minimized sources,
shared file cache, all cores) and prints make-style dependencies: exactly the
files the compiler opens, which become the declared inputs of the FE action.
"""

import json
import re
import logging
import os
import shutil
import subprocess

from tools.kthinlto import flags, scan_cache
from tools.kthinlto.records import Compile, TranslationError


def compilation_database(objs: list[Compile], compiler: str, objtree: str) -> list[dict]:
    db = []
    for c in objs:
        argv = [a for a in c.argv if not a.startswith(("-Wp,-MMD,", "-Wp,-MD,"))]
        db.append({"directory": objtree, "arguments": [compiler] + argv,
                   "file": c.source, "output": c.output})
    return db


def parse_make_deps(text: str) -> list[tuple[str, list[str]]]:
    """`target: dep dep \\` blocks -> [(target, deps)] in printed order."""
    result = []
    joined = text.replace("\\\n", " ")
    for line in joined.splitlines():
        if ":" not in line:
            continue
        target, _, rest = line.partition(": ")
        if not rest and line.endswith(":"):
            target, rest = line[:-1], ""
        words = rest.replace("\\ ", "\0").split()
        result.append((target.strip(),
                       [w.replace("\0", " ") for w in words]))
    return result


def scan(objs: list[Compile], compiler: str, scan_deps: str, objtree: str,
         srctree: str, work: str, jobs: int,
         env: dict | None = None, cache_dir: str | None = None,
         config: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Relocated input files (`%{src}/...`, `%{obj}/...`) per object output,
    each once, in the order the compiler opens them.

    env: the scanner's environment (the translation's, without CPATH and
    other settings of the user's shell).  cache_dir: where scans are kept
    by content (scan_cache.py), with config (the .config's values): only
    the compiles whose entry is missing or stale are scanned.
    """
    if cache_dir is None:
        return _scan_all(objs, compiler, scan_deps, objtree, srctree, work, jobs, env)
    files = scan_cache.Files(srctree, objtree)
    scanner = scanner_identity(scan_deps, env)
    result, todo = {}, []
    for c in objs:
        key = scan_cache.entry_key(scanner, c.argv, c.source, srctree, objtree)
        found = scan_cache.lookup(cache_dir, key, files, config or {})
        if found is not None:
            result[c.output] = found
        else:
            todo.append((c, key))
    logging.info("headers of %d of %d objects unchanged since an earlier scan "
                 "(KTHINLTO_CACHE/scan); scanning %d", len(objs) - len(todo), len(objs), len(todo))
    if todo:
        scanned = _scan_all([c for c, _ in todo], compiler, scan_deps, objtree, srctree,
                            work, jobs, env)
        for c, key in todo:
            result[c.output] = scanned[c.output]
            scan_cache.store(cache_dir, key, scan_cache.make_entry(scanned[c.output], files,
                                                                   config or {}))
    return result


def scanner_identity(scan_deps: str, env: dict | None = None) -> str:
    """Which scanner: where it really is and its version line."""
    proc = subprocess.run([scan_deps, "--version"], capture_output=True, text=True, env=env)
    path = shutil.which(scan_deps) or scan_deps
    lines = proc.stdout.strip().splitlines()
    return f"{os.path.realpath(path)}: {' '.join(lines[:2])}"


def _scan_all(objs: list[Compile], compiler: str, scan_deps: str, objtree: str,
              srctree: str, work: str, jobs: int,
              env: dict | None = None) -> dict[str, list[str]]:
    """deps.scan without a cache: clang-scan-deps over every compile."""
    db_path = os.path.join(work, "compile_commands.json")
    with open(db_path, "w") as f:
        json.dump(compilation_database(objs, compiler, objtree), f)
    logging.info("scanning headers of %d objects with %s", len(objs), scan_deps)
    proc = subprocess.run(
        [scan_deps, "-compilation-database", db_path, "-format=make",
         "-j", str(jobs)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-10:])
        raise TranslationError(f"{scan_deps} failed on {db_path}:\n{tail}")
    # Blocks come in completion order.  A .S file is preprocessed into a
    # temporary .s first, which becomes the target: those are matched by their
    # first dependency, the source itself.
    by_key = {}
    for target, found in parse_make_deps(proc.stdout):
        key = target
        if target.endswith(".s") and found:
            key = os.path.normpath(os.path.join(objtree, found[0]))
        by_key[key] = found
    result = {}
    for c in objs:
        found = by_key.get(c.output)
        if found is None:
            found = by_key.get(os.path.normpath(os.path.join(objtree, c.source)))
        if found is None:
            raise TranslationError(
                f"{scan_deps} printed no dependencies for {c.output} "
                f"(commands in {db_path})")
        files = []
        for path in found:
            rel = flags.relocate_path(path, srctree, objtree)
            if not rel.startswith((flags.SRC + "/", flags.OBJ + "/")):
                raise TranslationError(
                    f"{c.output} includes {path}, outside the kernel source and "
                    "object trees; such a header cannot be a declared input")
            files.append(rel)
        # In the compiler's order (the source, then each file where it is
        # first included): Kbuild's dependency files keep that order, and
        # modpost's srcversion sums files in it.
        result[c.output] = list(dict.fromkeys(files))
    return result


_INCBIN = re.compile(r'\.incbin\s+"([^"]+)"')


def incbin_files(preprocessed: str) -> list[str]:
    """Paths named by `.incbin "path"` directives in preprocessed assembly."""
    return sorted(set(_INCBIN.findall(preprocessed)))


def scan_incbin(objs: list[Compile], compiler: str, objtree: str,
                srctree: str, env: dict | None = None) -> dict[str, list[str]]:
    """Files that native assembly objects pull in with .incbin.

    The assembler opens them relative to Kbuild's working directory (the
    object tree), which no dependency scanner reports; the preprocessed
    source names them.  Returns relocated paths per object.
    """
    result = {}
    for c in objs:
        if c.bitcode or not c.source.endswith(".S"):
            continue
        argv = flags.preprocess_only(c.argv)
        proc = subprocess.run([compiler] + argv, cwd=objtree,
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            raise TranslationError(
                f"preprocessing {c.source} for .incbin failed: "
                + (lines[-1] if lines else f"exit status {proc.returncode}"))
        found = []
        for path in incbin_files(proc.stdout):
            full = os.path.join(objtree, path)
            if not os.path.isfile(full):
                raise TranslationError(
                    f"{c.output}: .incbin \"{path}\" is not a file under {objtree}")
            found.append(flags.relocate_path(path, srctree, objtree))
        if found:
            result[c.output] = found
    return result
