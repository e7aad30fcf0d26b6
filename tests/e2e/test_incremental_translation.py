"""Incremental translation on the real kernel (tools/kthinlto/incremental.py):
a kernel update (the default source with a few files changed: a Makefile's
flags, a new header, an assembly file) and one config option changed, each
translated from the default kernel's translation, give what a translation
from scratch gives: the generated repository and the object tree, byte for
byte but for the translation's own directory (and the binaries that name it,
which the hand-off leaves out).  And Kbuild redoes only a few of its steps."""

import os
import re
import subprocess
import sys

from tests.e2e import kernels
from tools.kthinlto import emit, trees

# The update, as (file, text appended): new text on an existing file,
# or a new file.
UPDATE = {
    "kernel/Makefile": "\nCFLAGS_sys.o += -DKTHINLTO_UPDATE\n",
    "include/linux/kthinlto_update.h": "#define KTHINLTO_UPDATE 1\n",
    "arch/x86/kernel/head_64.S": "/* kthinlto update */\n",
}
# ... and a header included where there was none.
INCLUDE = ("kernel/panic.c", "#include <linux/kthinlto_update.h>\n")


def _write(tree: str, rel: str, text: str) -> None:
    """New bytes for tree/rel in a new file (the tree is a hard-linked
    copy: the shared inode stays as it was)."""
    path = os.path.join(tree, rel)
    tmp = path + ".kthinlto-edit"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _translate(cache: str, ws: str, src: str, *flags: str,
               incremental: str = "") -> tuple[str, str]:
    """The configure CLI into cache; (its stderr, the gen directory)."""
    env = dict(os.environ, KTHINLTO_SHARED_CACHE="off", KTHINLTO_INCREMENTAL=incremental)
    proc = kernels.run([sys.executable, "-m", "tools.kthinlto.configure", f"--cache_dir={cache}",
                        f"--workspace={ws}", f"--source={src}", "--name=kernel", *flags],
                       cwd=kernels.REPO, env=env)
    # The translation made last.
    made = [os.path.join(cache, "trees", t) for t in os.listdir(os.path.join(cache, "trees"))]
    newest = max((t for t in made if trees.is_complete(t)),
                 key=lambda t: os.stat(os.path.join(t, trees.COMPLETE)).st_mtime)
    return proc.stderr, os.path.join(newest, "gen")


def _contents(gen: str) -> dict[str, bytes]:
    """Every file of a translation (its gen and obj directories), the
    translation's own directory as @TREE@."""
    tree = os.path.dirname(gen)
    out = {}
    for top in ("gen", "obj"):
        root = os.path.join(tree, top)
        for dirpath, dirs, files in os.walk(root):
            if dirpath == root:
                dirs[:] = [d for d in dirs if d not in ("src", "obj", "source")]
            for name in files:
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    continue
                with open(path, "rb") as f:
                    out[os.path.relpath(path, tree)] = f.read().replace(tree.encode(), b"@TREE@")
    return out


def _differences(incremental_gen: str, scratch_gen: str) -> list[str]:
    a, b = _contents(incremental_gen), _contents(scratch_gen)
    not_normal = {"obj/" + p for p in _left_out(scratch_gen)}
    assert not_normal == {"obj/" + p for p in _left_out(incremental_gen)}
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in not_normal)


def _left_out(gen: str) -> list[str]:
    """The object tree's files the hand-off leaves out (the generated BUILD)."""
    build = _read(os.path.join(gen, "BUILD.bazel"))
    objtree = build[build.index('name = "objtree"'):build.index('name = "tail_srcs"')]
    return [p[len("obj/"):] for p in re.findall(r'"(obj/[^"]+)"', objtree)
            if p not in ("obj/source", "obj/source/**")]


def _redone(stderr: str) -> tuple[int, int]:
    m = re.search(r"incremental: Kbuild redid (\d+) of the (\d+) steps", stderr)
    assert m, stderr[-3000:]
    return int(m.group(1)), int(m.group(2))


def _incremental_cache(default_kernel, tmp_path) -> str:
    """A KTHINLTO_CACHE holding the default kernel's translation only (a
    hard-linked copy: incremental.seed copies from it, never writes)."""
    cache = str(tmp_path / "incremental_cache")
    os.makedirs(os.path.join(cache, "trees"))
    tree = os.path.dirname(default_kernel.gen())
    subprocess.run(["cp", "-al", tree, os.path.join(cache, "trees", os.path.basename(tree))],
                   check=True)
    return cache


def test_update_and_option_translated_from_the_earlier_translation_are_as_from_scratch(
        default_kernel, tmp_path):
    # Resumed from the default kernel's translation, twice: a kernel update
    # (a copy of its source with UPDATE and INCLUDE), then one option more
    # on the default source.  Each against a translation from scratch.
    cache = _incremental_cache(default_kernel, tmp_path)
    src = kernels.private_source(str(tmp_path / "linux-update"))
    for rel, text in UPDATE.items():
        _write(src, rel, _read(os.path.join(src, rel)) + text)
    _write(src, INCLUDE[0], INCLUDE[1] + _read(os.path.join(src, INCLUDE[0])))
    stderr, gen = _translate(cache, str(tmp_path / "ws_a"), src)
    assert re.search(r"incremental: from .*: 4 source files differ", stderr), stderr[-3000:]
    redone, steps = _redone(stderr)
    print(f"update: Kbuild redid {redone} of {steps} steps")
    assert 0 < redone < steps / 10
    # The update is in it: sys.o's new flag, panic.o's new header.
    text = repr(emit.read_kernel_bzl(os.path.join(gen, "kernel.bzl")))
    assert "-DKTHINLTO_UPDATE" in text and "include/linux/kthinlto_update.h" in text
    scratch_stderr, scratch = _translate(str(tmp_path / "scratch_cache"), str(tmp_path / "ws_b"),
                                         src)
    assert "incremental:" not in scratch_stderr
    assert _differences(gen, scratch) == []

    # One option more, on the default source: the base is the default
    # kernel's translation (a tree at the same path), not the update's.
    fragment = tmp_path / "printk_time.config"
    fragment.write_text("CONFIG_PRINTK_TIME=y\n")
    decl = ["--config=tinyconfig",
            f"--fragment={os.path.join(kernels.REPO, 'configs', 'bootable.config')}",
            f"--fragment={fragment}"]
    stderr, gen = _translate(cache, str(tmp_path / "ws_a"), default_kernel.srctree, *decl)
    assert re.search(r"incremental: from .*: 0 source files differ", stderr), stderr[-3000:]
    redone, steps = _redone(stderr)
    print(f"option: Kbuild redid {redone} of {steps} steps")
    assert 0 < redone < steps / 10
    assert "CONFIG_PRINTK_TIME=y" in _read(os.path.join(os.path.dirname(gen), "obj", ".config"))
    # From scratch: in the cache that translated the update from scratch,
    # with KTHINLTO_INCREMENTAL=off (else it would resume that one).
    scratch_stderr, scratch = _translate(str(tmp_path / "scratch_cache"), str(tmp_path / "ws_b"),
                                         default_kernel.srctree, *decl, incremental="off")
    assert "incremental:" not in scratch_stderr
    assert _differences(gen, scratch) == []
