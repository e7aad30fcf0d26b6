"""Header scans kept by content, so a translation re-scans only what changed.

clang-scan-deps is the translation's second-largest phase (36-40 s on
defconfig).  What it finds for one compile depends only on the scanner, the
command line, and the content of the files the compiler opens, read under
the config: so an entry per compile is kept in KTHINLTO_CACHE/scan/, keyed
by the scanner's identity and the command line with the source and object
trees' paths as tokens (another tree of the same kernel, such as the next
Debian revision, or another config's translation finds it).  It holds:

  deps     the relocated files the compiler opened, in order (deps.scan's
           result for that compile)
  files    one sha256 over every one of them and its content, but the
           config header (include/generated/autoconf.h)
  config   the value of each CONFIG_ symbol those files name (as Kbuild's
           fixdep reasons: a config change reaches a compile only through a
           CONFIG_ symbol one of its files names; `_MODULE` is the
           option's)

An entry is used when its files have the same content and every symbol its
value; otherwise the compile is scanned again and its entry put first of
the KEPT kept for that command line (configs tried and dropped stay there).
"""

import hashlib
import json
import os
import zlib

from tools.kthinlto import autoconf, flags

FORMAT = 1
CONFIG_HEADER = autoconf.CONFIG_HEADER
_SYMBOL = autoconf.NAMED


def entry_key(scanner: str, argv: tuple[str, ...], source: str, srctree: str, objtree: str) -> str:
    """The key of one compile's scan: scanner identity, then its argument
    words and source with the trees' paths as tokens."""
    pairs = sorted(((os.path.normpath(objtree), flags.OBJ), (os.path.normpath(srctree), flags.SRC)),
                   key=lambda p: -len(p[0]))

    def neutral(word: str) -> str:
        for path, token in pairs:
            word = word.replace(path, token)
        return word
    h = hashlib.sha256(f"{FORMAT}\0{scanner}\0{neutral(source)}\0".encode())
    for word in argv:
        h.update(neutral(word).encode() + b"\0")
    return h.hexdigest()


def config_value(config: dict[str, str], symbol: str) -> str:
    """What autoconf.h says of symbol: the option's value ("" if unset);
    CONFIG_X_MODULE is defined when X is m."""
    value = config.get(symbol, "")
    if not value and symbol.endswith("_MODULE"):
        value = "m" if config.get(symbol[:-len("_MODULE")]) == "m" else ""
    return "" if value == "n" else value


class Files:
    """This translation's files, each read at most once: digest and the
    CONFIG_ symbols it names, by relocated path."""

    def __init__(self, srctree: str, objtree: str):
        self.srctree, self.objtree = srctree, objtree
        self._seen: dict[str, tuple[str, frozenset[str]]] = {}

    def _read(self, rel: str) -> tuple[str, frozenset[str]]:
        if rel not in self._seen:
            try:
                with open(flags.expand(rel, self.srctree, self.objtree), "rb") as f:
                    data = f.read()
                self._seen[rel] = (hashlib.sha256(data).hexdigest(),
                                   frozenset(s.decode() for s in _SYMBOL.findall(data)))
            except OSError:
                self._seen[rel] = ("missing", frozenset())
        return self._seen[rel]

    def digest_of(self, deps: list[str]) -> str:
        """One sha256 over each file (but the config header) and its content."""
        h = hashlib.sha256()
        for rel in deps:
            if rel != CONFIG_HEADER:
                h.update(rel.encode() + b"\0" + self._read(rel)[0].encode() + b"\n")
        return h.hexdigest()

    def symbols_of(self, deps: list[str]) -> set[str]:
        return {s for rel in deps if rel != CONFIG_HEADER for s in self._read(rel)[1]}


def make_entry(deps: list[str], files: Files, config: dict[str, str]) -> dict:
    return {"deps": deps, "files": files.digest_of(deps),
            "config": {s: config_value(config, s) for s in sorted(files.symbols_of(deps))}}


def still_valid(entry: dict, files: Files, config: dict[str, str]) -> bool:
    return (all(config_value(config, s) == v for s, v in entry["config"].items())
            and files.digest_of(entry["deps"]) == entry["files"])


def _path(cache_dir: str, key: str) -> str:
    return os.path.join(cache_dir, "scan", key[:2], key)


# Entries kept per command line, newest first: a config switched back and
# forth (a fragment tried and dropped) finds its scans still there.
KEPT = 4


def load(cache_dir: str, key: str) -> list[dict]:
    """The entries kept for key, newest first (none if unreadable)."""
    try:
        with open(_path(cache_dir, key), "rb") as f:
            entries = json.loads(zlib.decompress(f.read()))
    except (OSError, ValueError, zlib.error):
        return []
    return entries if isinstance(entries, list) else []


def lookup(cache_dir: str, key: str, files: Files, config: dict[str, str]) -> list[str] | None:
    """The deps of the first entry for key still valid here, or None."""
    for entry in load(cache_dir, key):
        if still_valid(entry, files, config):
            return entry["deps"]
    return None


def store(cache_dir: str, key: str, entry: dict) -> None:
    """Puts entry first among key's (KEPT at most).  Written beside its
    name and renamed: a reader sees whole entries."""
    path = _path(cache_dir, key)
    entries = [entry] + [e for e in load(cache_dir, key) if e != entry][:KEPT - 1]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(zlib.compress(json.dumps(entries, separators=(",", ":")).encode(), 6))
    os.replace(tmp, path)
