"""vmlinux.o's link and post-link commands, Kbuild's and Bazel's, as word
lists that compare path for path.

Kbuild records what it ran in `.vmlinux.o.cmd`, one line:
`savedcmd_vmlinux.o := LD FLAGS -r -o vmlinux.o -T SCRIPT --whole-archive
vmlinux.a --no-whole-archive --start-group LIB.A... --end-group ; OBJTOOL
ARGS vmlinux.o` (`cmd_vmlinux.o :=` before 6.2; no objtool on arm64).

Bazel's RelocatableLink action runs relocatable_link.sh with the linker, an
@params file, the output and the post-link command.  What that script makes
of its argv is observed, not assumed: `run_with_recorders` runs the real
script in a scratch directory laid out like the execroot, where every path
the action names is a recorder that writes down how it was called.

Also objtool's output in a linked object: section sizes and relocations
from llvm-readelf's text.

Pure functions but for `run_with_recorders` and `archive_members`.
"""

import os
import re
import shlex
import subprocess


def saved_steps(line: str) -> list[list[str]]:
    """The commands of a saved `[saved]cmd_X := a ; b` line, each as words."""
    _, sep, cmd = line.partition(":=")
    if not sep:
        raise ValueError(f"not a saved Kbuild command: {line[:80]!r}")
    return [words for words in (shlex.split(step) for step in cmd.split(";")) if words]


def expand_archives(words: list[str], members) -> list[str]:
    """Kbuild's link words with each archive (`x.a`) replaced by its members,
    members(archive) -> list of object-tree paths: inside --whole-archive by
    the members themselves, outside by `--start-lib MEMBERS --end-lib`, which
    lld links exactly as it links the archive (each member on demand); and
    `--end-lib --start-lib` between two lazy archives dropped (one list)."""
    out: list[str] = []
    whole = False
    for w in words:
        if w == "--whole-archive":
            whole = True
        elif w == "--no-whole-archive":
            whole = False
        if w.endswith(".a") and not w.startswith("-"):
            objects = [os.path.normpath(m) for m in members(w)]
            if whole:
                out += objects
            elif objects:
                if out[-1:] == ["--end-lib"]:
                    out[-1:] = objects + ["--end-lib"]
                else:
                    out += ["--start-lib", *objects, "--end-lib"]
        else:
            out.append(w)
    return out


def lto_placement(words: list[str], is_bitcode) -> list[str]:
    """The objects between --whole-archive and --no-whole-archive in the
    order lld places them when it links bitcode in-process: every native
    object first, then the LTO backends' objects (lld adds the files LTO
    produced after all of its inputs), each in link order; is_bitcode(path)
    -> bool.  Lazy objects (--start-lib lists) are left as they are."""
    out: list[str] = []
    whole = None
    for w in words:
        if w == "--whole-archive":
            whole = []
        elif w == "--no-whole-archive" and whole is not None:
            out += [o for o in whole if not is_bitcode(o)] + [o for o in whole if is_bitcode(o)]
            whole = None
        elif whole is not None:
            if w.startswith("-"):
                raise ValueError(f"{w} among the --whole-archive objects")
            whole.append(w)
            continue
        out.append(w)
    return out


def is_bitcode(path: str) -> bool:
    """Whether a file is LLVM bitcode (raw, or in the bitcode wrapper)."""
    with open(path, "rb") as f:
        return f.read(4) in (b"BC\xc0\xde", b"\xde\xc0\x17\x0b")


def archive_members(llvm_ar: str, objtree: str):
    """members(archive) for expand_archives: `llvm-ar t` in objtree (Kbuild's
    archives are thin: they list object-tree paths)."""
    def members(archive: str) -> list[str]:
        return subprocess.run([llvm_ar, "t", archive], cwd=objtree, check=True,
                              capture_output=True, text=True).stdout.split()
    return members


def rewrite(words: list[str], substitutions) -> list[str]:
    """words with every exact occurrence of a substitution's words (a tuple)
    replaced by its replacement (a tuple, possibly empty), substitutions
    applied in turn: (words, replacement, why) triples."""
    for old, new, _why in substitutions:
        old, new = list(old), list(new)
        out, i = [], 0
        while i < len(words):
            if old and words[i:i + len(old)] == old:
                out += new
                i += len(old)
            else:
                out.append(words[i])
                i += 1
        words = out
    return words


def expand_response_files(words: list[str], read) -> list[str]:
    """words with each `@file` replaced by the file's words, read(file) ->
    its text, split as ld.lld splits a response file on POSIX (GNU quoting,
    which shlex follows for the paths and flags found here)."""
    out = []
    for w in words:
        out += shlex.split(read(w[1:])) if w.startswith("@") else [w]
    return out


def relocate(words: list[str], dirs: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Bazel's paths made object-tree-relative: a word under one of dirs
    (directory -> what it holds, e.g. the backends' output directory ->
    "ThinLtoBackend") loses that directory.  Returns the words and, for each
    relocated word, what held it (so a test can tell a backend's object
    from a frontend's of the same path).  The longest directory wins."""
    out, held = [], {}
    by_length = sorted(dirs, key=len, reverse=True)
    for w in words:
        d = next((d for d in by_length if w.startswith(d.rstrip("/") + "/")), None)
        if d is None:
            out.append(w)
            continue
        rel = w[len(d.rstrip("/")) + 1:]
        out.append(rel)
        held[rel] = dirs[d]
    return out, held


def multiline(args: list[str]) -> str:
    """A param file's text in Bazel's `multiline` format: one argument a line."""
    return "".join(a + "\n" for a in args)


def param_file_args(argv: list[str], expanded: list[str]) -> dict[str, list[str]]:
    """The arguments of argv's @file (none or one), given the same command
    line with the file's arguments in its place (what Bazel 4's aquery
    shows): the words between those before and after the @file."""
    at = [i for i, w in enumerate(argv) if w.startswith("@")]
    if not at:
        if argv != expanded:
            raise ValueError("no @file, yet the command lines differ")
        return {}
    (i,) = at
    head, tail = argv[:i], argv[i + 1:]
    if expanded[:i] != head or expanded[len(expanded) - len(tail):] != tail:
        raise ValueError("the command lines differ outside the @file")
    return {argv[i][1:]: expanded[i:len(expanded) - len(tail)]}


# A stand-in for every path of the action: writes its argv, NUL-separated,
# as the next numbered file of $RECORD.
_RECORDER = """#!/bin/sh
n=$(ls "$RECORD" | wc -l)
printf '%s\\0' "$0" "$@" > "$RECORD/$n"
"""


def run_with_recorders(argv: list[str], script: str, param_files: dict[str, list[str]],
                       scratch: str) -> tuple[list[list[str]], str]:
    """Runs an action's argv as Bazel does (argv[0], execroot-relative, in
    the execroot) with the real executable `script` at argv[0] and every
    other path-like word (relative, with a `/`) a recorder; param_files:
    execroot path -> its arguments (written one a line, Bazel's multiline
    format).  Returns what the recorders were called with, in order (each
    [argv0, args...]) and the scratch execroot (where @files are)."""
    root = os.path.join(scratch, "execroot")
    record = os.path.join(scratch, "record")
    os.makedirs(record)
    for word in argv[1:]:
        if "/" in word and not word.startswith(("-", "@", "/")):
            path = os.path.join(root, word)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(_RECORDER)
            os.chmod(path, 0o755)
    for path, args in param_files.items():
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        with open(os.path.join(root, path), "w") as f:
            f.write(multiline(args))
    exe = os.path.join(root, argv[0])
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    with open(script) as src, open(exe, "w") as dst:
        dst.write(src.read())
    os.chmod(exe, 0o755)
    env = {"PATH": "/usr/bin:/bin", "RECORD": record}
    subprocess.run(argv, cwd=root, env=env, check=True)
    calls = []
    for n in range(len(os.listdir(record))):
        with open(os.path.join(record, str(n))) as f:
            calls.append(f.read().split("\0")[:-1])
    return calls, root


# objtool's output, read from `llvm-readelf -S -W` and `llvm-readelf -r -W`.
_SECTION = re.compile(r"^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+[0-9a-f]{8,16}\s+[0-9a-f]+\s+([0-9a-f]+)\s", re.M)
_RELOCATIONS = re.compile(r"^Relocation section '([^']+)' at offset \S+ contains \d+ entries:$")


def section_sizes(readelf_s: str) -> dict[str, int]:
    """Section name -> size from `llvm-readelf -S -W` (sizes of sections of
    the same name added)."""
    sizes: dict[str, int] = {}
    for name, size in _SECTION.findall(readelf_s):
        sizes[name] = sizes.get(name, 0) + int(size, 16)
    return sizes


def relocations(readelf_r: str, sections, symbol=lambda s: s) -> dict[str, list[tuple[str, ...]]]:
    """Relocation section -> its entries from `llvm-readelf -r -W`, for the
    named sections only: (offset, type, symbol value, symbol(name), sign,
    addend), without the info word (it holds the symbol's index, which
    differs between two links of the same objects)."""
    out: dict[str, list[tuple[str, ...]]] = {}
    current = None
    for line in readelf_r.splitlines():
        m = _RELOCATIONS.match(line)
        if m:
            current = out.setdefault(m.group(1), []) if m.group(1) in sections else None
            continue
        words = line.split()
        if current is None or not words or words[0] == "Offset":
            continue
        offset, _info, rtype, *rest = words
        if len(rest) == 4:
            value, name, sign, addend = rest
            rest = [value, symbol(name), sign, addend]
        current.append((offset, rtype, *rest))
    return out
