"""Translates a kernel tree and config into the Bazel graph of vmlinux.o.

Kbuild runs once with recording shims (no ThinLTO object is compiled), then
clang-scan-deps lists every object's headers; the result is a generated Bazel
repository (@kernel) that `bazel build //:vmlinux_o` builds.

Examples:
  # the default: Debian's linux-source-6.1 as pinned in sources.json,
  # x86_64 tinyconfig + configs/bootable.config + ThinLTO
  python3 -m tools.kthinlto.configure
  # another pinned Debian source, cross-built for arm64 (tinyconfig +
  # configs/bootable-arm64.config)
  python3 -m tools.kthinlto.configure --source=linux-source-6.12 --arch=arm64
  # your own tree with defconfig plus a fragment
  python3 -m tools.kthinlto.configure --source=$HOME/linux \\
      --config=defconfig --fragment=my.config
  # a full .config
  python3 -m tools.kthinlto.configure --source=$HOME/linux --config_file=.config
"""

import dataclasses
import json
import logging
import os
import shutil
import sys
import time

from absl import app
from absl import flags as absl_flags

from tools.kthinlto import arches, deps, emit, graph, kbuild, records, trees
from tools.kthinlto.records import TranslationError
# Re-exported: the source helpers are part of this CLI's documented surface.
from tools.kthinlto.source import (check_kernel_tree, pinned_tree,  # noqa: F401
                                   read_pins, sha256_file, unpack)

POINTER = "kernel_tree.json"
# The ruleset's own checkout (configs/ lives here).
RULESET = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = absl_flags.FLAGS
absl_flags.DEFINE_string("source", read_pins()[0],
                         "Kernel source: a Debian package pinned in "
                         "tools/kthinlto/sources.json (fetched as exactly "
                         "that version), a tree, or a .tar.xz of one.")
absl_flags.DEFINE_string("sha256", None,
                         "Expected sha256 of --source when it is a tarball.")
absl_flags.DEFINE_string("config", None,
                         "Config target, e.g. tinyconfig or defconfig.  With "
                         "none of --config, --config_file and --fragment: "
                         "tinyconfig plus the architecture's bootable "
                         "fragment (tools/kthinlto/arches.py), which "
                         "./kthin boot boots.")
absl_flags.DEFINE_string("config_file", "", "A full .config to use instead of --config.")
absl_flags.DEFINE_multi_string("fragment", [], "Config fragment merged on top (repeatable).")
absl_flags.DEFINE_string("arch", "x86_64", "Kernel ARCH.")
absl_flags.DEFINE_string("kcflags", "",
                         "Extra C flags for every kernel compile (Kbuild's "
                         "KCFLAGS); recorded in the graph.  KCFLAGS, CFLAGS, "
                         "LLVM and the like in the environment are ignored.")
absl_flags.DEFINE_integer("jobs", os.cpu_count() or 2, "Parallel jobs for Kbuild.")
absl_flags.DEFINE_string("workspace", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "The kthinlto workspace.")
absl_flags.DEFINE_string("cache_dir", os.environ.get("KTHINLTO_CACHE") or
                         os.path.expanduser("~/.cache/kthinlto"),
                         "Where extracted sources and object trees live.")


@dataclasses.dataclass(frozen=True)
class Request:
    source: str
    sha256: str | None
    spec: kbuild.ConfigSpec
    arch: str
    jobs: int
    kcflags: str
    workspace: str
    cache_dir: str


def resolve_source(req: Request) -> str:
    src = os.path.abspath(req.source)
    if req.source in read_pins()[1] and not os.path.exists(req.source):
        src = pinned_tree(req.source, req.cache_dir)
    elif os.path.isfile(src):
        src = unpack(src, req.sha256, req.cache_dir)
    elif not os.path.isdir(src):
        raise TranslationError(
            f"{req.source}: no such kernel tree or tarball, nor a package pinned "
            f"in tools/kthinlto/sources.json ({', '.join(sorted(read_pins()[1]))})")
    check_kernel_tree(src, req.arch)
    return src


def translate(req: Request) -> str:
    """Runs the whole translation; returns the generated repository dir."""
    tc = kbuild.Toolchain()
    kbuild.check_tools(tc)
    ignored = kbuild.ignored_settings(os.environ)
    if ignored:
        logging.info("ignoring %s from the environment: the translation takes "
                     "settings only from its flags (--kcflags, --config, ...)",
                     ", ".join(ignored))
    env = kbuild.kbuild_env(os.environ)
    srctree = resolve_source(req)
    kbuild.check_spec(req.spec, srctree, arches.srcarch(req.arch))
    work = os.path.join(req.cache_dir, "trees", trees.translation_key(
        translation_inputs(req, srctree, tc)))
    try:
        with trees.locked(work):
            if trees.is_complete(work):
                logging.info("reusing %s: translated before from the same source, "
                             "config, flags, translator and LLVM", work)
                gen = os.path.join(work, "gen")
            else:
                gen = _translate_into(work, req, srctree, tc, env)
                trees.mark_complete(work)
            pointer = publish(req.workspace, gen)
            trees.record_user(work, pointer)
    except BaseException:
        # Nothing of a failed translation stays in the cache.
        if not trees.is_complete(work) and not os.environ.get("KTHINLTO_KEEP_FAILED"):
            trees.drop_lock(work)
        raise
    return gen


def translation_inputs(req: Request, srctree: str, tc: kbuild.Toolchain) -> dict:
    """Everything a translation's result depends on (its cache key)."""
    files = [req.spec.config_file, *req.spec.fragments]
    return {
        "source": trees.tree_fingerprint(srctree, req.cache_dir),
        "arch": req.arch,
        "target": req.spec.target,
        "config_files": [trees.file_digest(f) if f else "" for f in files],
        "kcflags": req.kcflags,
        "translator": trees.translator_digest(),
        "llvm": trees.llvm_identity(tc.clang),
    }


def _translate_into(work: str, req: Request, srctree: str, tc: kbuild.Toolchain,
                    env: dict) -> str:
    """Translates into the (new) directory work; returns its gen directory."""
    # A tree left by a translation that stopped half-way is never used.
    shutil.rmtree(work, ignore_errors=True)
    objtree = os.path.join(work, "obj")
    os.makedirs(objtree)
    log_path = os.path.join(work, "kbuild.log")
    start = time.monotonic()
    try:
        probes = kbuild.probes_for(work, tc)
        kbuild.configure(srctree, objtree, req.arch, tc, req.spec, log_path,
                         req.jobs, probes)
        rec_dir = kbuild.recorded_build(srctree, objtree, req.arch, tc, work,
                                        req.jobs, log_path, req.kcflags)
        kbuild.normalize_objtool(objtree, tc)
        recs = records.read_records(rec_dir)
        link = graph.link_from_records(
            recs, lambda a: kbuild.archive_members(a, objtree, tc))
        with open(os.path.join(objtree, ".vmlinux.o.cmd")) as f:
            objtool_args = graph.parse_objtool(f.readline())
        link = dataclasses.replace(link, objtool_args=objtool_args)
        compiles = records.compiles(recs, objtree)
        linked = [compiles[p] for p in link.whole + link.lazy if p in compiles]
        inputs = deps.scan(linked, tc.clang, tc.scan_deps, objtree, srctree,
                           work, req.jobs, env)
        for path, extra in deps.scan_incbin(linked, tc.clang, objtree,
                                            srctree, env).items():
            inputs[path] = sorted(set(inputs[path] + extra))
        objs = graph.build_objects(link, compiles, inputs, srctree, objtree)
        leaks = graph.host_paths(objs, link, srctree, objtree)
        if leaks:
            raise TranslationError("host path left in flags: " + leaks[0])
        config = emit.kernel_config(srctree, req.arch, req.spec.target,
                                    req.spec.config_file, req.spec.fragments,
                                    req.kcflags)
        data = emit.kernel_data(objs, link, config, kbuild.PINNED_BUILD_ENV,
                                kbuild.kconfig_files(objtree))
        gen = os.path.join(work, "gen")
        emit.write(gen, srctree, objtree, data)
    except BaseException:
        # Nothing half-written: the workspace still points at the old tree.
        if not os.environ.get("KTHINLTO_KEEP_FAILED"):
            shutil.rmtree(work, ignore_errors=True)
        raise
    nbit = sum(o.bitcode for o in objs)
    logging.info("translated %d objects (%d bitcode, %d native, %d lazy) in %.1f s",
                 len(objs), nbit, len(objs) - nbit, sum(o.lazy for o in objs),
                 time.monotonic() - start)
    return gen


def publish(workspace: str, gen: str) -> str:
    """Points the workspace at gen atomically (rename of the pointer file);
    returns the pointer file."""
    pointer = os.path.join(workspace, POINTER)
    tmp = pointer + f".tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump({"gen": gen}, f)
        f.write("\n")
    os.replace(tmp, pointer)
    logging.info("%s -> %s", pointer, gen)
    return pointer


def config_spec(arch: str, config: str | None, config_file: str,
                fragments: list[str]) -> kbuild.ConfigSpec:
    """The configuration the flags ask for (paths made absolute).

    With none of config, config_file and fragments: the default kernel,
    tinyconfig plus the architecture's bootable fragment, if it has one.
    """
    if config is None and not config_file and not fragments:
        known = arches.ARCHES.get(arch)
        fragments = [os.path.join(RULESET, known.bootable_fragment)] if known else []
    return kbuild.ConfigSpec(
        target="" if config_file else (config or "tinyconfig"),
        config_file=os.path.abspath(config_file) if config_file else "",
        fragments=tuple(os.path.abspath(f) for f in fragments))


def main(argv: list[str]) -> int:
    del argv
    kbuild.log_to_stderr()
    if FLAGS.jobs < 1:
        print(f"kthinlto: error: --jobs={FLAGS.jobs}: must be 1 or more", file=sys.stderr)
        return 1
    spec = config_spec(FLAGS.arch, FLAGS.config, FLAGS.config_file, FLAGS.fragment)
    req = Request(source=FLAGS.source, sha256=FLAGS.sha256, spec=spec,
                  arch=FLAGS.arch, jobs=FLAGS.jobs, kcflags=FLAGS.kcflags,
                  workspace=FLAGS.workspace,
                  cache_dir=FLAGS.cache_dir)
    try:
        translate(req)
    except TranslationError as e:
        print(f"kthinlto: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    app.run(main)
