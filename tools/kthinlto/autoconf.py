"""Per-compile views of the config header, so an option reaches only the
compiles that read it.

Every compile includes include/generated/autoconf.h (through
include/linux/kconfig.h), and any option changes it: declared whole, it
would make one option re-run every FE action.  Kbuild avoids that with
fixdep, which lists per object the CONFIG_ symbols its files name and
rebuilds the object when one of those changes.  The translation does the
same once: each compile gets a view, the lines of autoconf.h for the
symbols its files name (the files the header scan found it opens), declared
instead of the whole header and found first on its include path
(-I<view dir>, rules/private/frontend.bzl).

The view must hold every line the compile could use, or the object would
differ from Kbuild's.  A file names CONFIG_X: the view has CONFIG_X and
CONFIG_X_MODULE (kconfig.h's IS_MODULE pastes _MODULE on).  A file pastes
a name together (`IS_ENABLED(CONFIG_##option)`,
`CONFIG_SERIAL_8250_##option`): the view has every line whose symbol
starts with the prefix (for `CONFIG_##`, the whole header).  Views are
named by their content (VIEWS/<digest>/generated/autoconf.h), so the
compiles that read the same lines share one.
"""

import hashlib
import os
import re

from tools.kthinlto import flags

# The config header, as a relocated path (what the header scan lists).
CONFIG_HEADER = flags.OBJ + "/include/generated/autoconf.h"
# Where the views are, in the generated repository.
VIEWS = "autoconf"

# A CONFIG_ symbol named in a file (scan_cache.py reads them with this too).
NAMED = re.compile(rb"\bCONFIG_[A-Za-z0-9_]+")
_PASTED = re.compile(rb"\b(CONFIG_[A-Za-z0-9_]*)\s*##")
_DEFINE = re.compile(r"^#define (CONFIG_[A-Za-z0-9_]+)[ \t]")


def names_in(data: bytes) -> tuple[frozenset[str], frozenset[str]]:
    """(symbols a file names, prefixes it pastes a symbol onto)."""
    pasted = frozenset(p.decode() for p in _PASTED.findall(data))
    named = frozenset(n.decode() for n in NAMED.findall(data))
    return named, pasted


class Reader:
    """The names of each file (a relocated path), each read once."""

    def __init__(self, srctree: str, objtree: str):
        self.srctree, self.objtree = srctree, objtree
        self._seen: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    def names(self, rel: str) -> tuple[frozenset[str], frozenset[str]]:
        if rel not in self._seen:
            try:
                with open(flags.expand(rel, self.srctree, self.objtree), "rb") as f:
                    self._seen[rel] = names_in(f.read())
            except OSError:
                self._seen[rel] = (frozenset(), frozenset())
        return self._seen[rel]

    def of(self, inputs) -> tuple[set[str], set[str]]:
        """The symbols and pasted prefixes of a compile's files (the
        config header's own aside)."""
        named, pasted = set(), set()
        for rel in inputs:
            if rel != CONFIG_HEADER:
                n, p = self.names(rel)
                named |= n
                pasted |= p
        return named, pasted


def view(header: str, named: set[str], pasted: set[str]) -> str:
    """The lines of the config header (its text) a compile whose files
    name `named` and paste onto `pasted` can use, in the header's order."""
    wanted = named | {n + "_MODULE" for n in named}
    prefixes = tuple(sorted(pasted))
    lines = ["/* kthinlto: the lines of include/generated/autoconf.h this "
             "compile's files name (tools/kthinlto/autoconf.py) */\n"]
    for line in header.splitlines(keepends=True):
        m = _DEFINE.match(line)
        if m and (m.group(1) in wanted or m.group(1).startswith(prefixes or ("\0",))):
            lines.append(line)
    return "".join(lines)


def view_path(text: str) -> str:
    """Where a view is in the generated repository (by its content)."""
    return f"{VIEWS}/{hashlib.sha256(text.encode()).hexdigest()[:20]}/generated/autoconf.h"


def views(inputs: dict[str, list[str]], srctree: str, objtree: str) -> dict[str, tuple[str, str]]:
    """Object path -> (its view's path in the generated repository, the
    view's text), for each compile whose inputs have the config header."""
    with open(os.path.join(objtree, "include", "generated", "autoconf.h")) as f:
        header = f.read()
    reader = Reader(srctree, objtree)
    out = {}
    for path, files in inputs.items():
        if CONFIG_HEADER in files:
            text = view(header, *reader.of(files))
            out[path] = (view_path(text), text)
    return out


def write(gen_dir: str, texts: dict[str, str]) -> None:
    """The views (path in the generated repository -> text) under gen_dir."""
    for path, text in texts.items():
        full = os.path.join(gen_dir, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
