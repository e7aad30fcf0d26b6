"""Translates a declared kernel into the Bazel graph of vmlinux.o.

Kbuild runs once with recording shims (no ThinLTO object is compiled), then
clang-scan-deps lists every object's headers; the result is a generated Bazel
repository directory, kept in KTHINLTO_CACHE/trees/<key of its inputs>.

Two ways in:
  * `./kthin configure [FLAGS]` (this module without --declaration):
    translates the kernel the flags describe, then writes its declaration,
    kernels/<--name>.json (tools/kthinlto/declaration.py), into the
    workspace.  A failure leaves the workspace as it was.
  * `--declaration=kernels/<name>.json`: what the kernel repository rule
    (rules/private/repositories.bzl) runs when Bazel needs @<name>.

Examples:
  # the default: Debian's linux-source-6.1 as pinned in sources.json,
  # x86_64 tinyconfig + configs/bootable.config + ThinLTO
  python3 -m tools.kthinlto.configure
  # another pinned Debian source, cross-built for arm64 (tinyconfig +
  # configs/bootable-arm64.config), declared beside the default as @kernel_arm64
  python3 -m tools.kthinlto.configure --name=kernel_arm64 \\
      --source=linux-source-6.12 --arch=arm64
  # your own tree with defconfig plus a fragment (copied into kernels/)
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

from tools.kthinlto import (arches, autoconf, compile_commands, declaration, deps, emit, graph,
                            incremental, kbuild, records, shared_cache, trees)
from tools.kthinlto.records import TranslationError
# Re-exported: the source helpers are part of this CLI's documented surface.
from tools.kthinlto.source import (check_kernel_tree, is_pin,  # noqa: F401
                                   pinned_tree, read_pins, sha256_file, unpack)

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
absl_flags.DEFINE_string("workspace", declaration.RULESET,
                         "The workspace whose kernels/<name>.json to write "
                         "(or whose labels a --declaration names).")
absl_flags.DEFINE_string("name", declaration.DEFAULT_NAME,
                         "The kernel's repository: kernels/<name>.json, "
                         "@<name>//:vmlinux_o (declared in WORKSPACE and "
                         "MODULE.bazel if new).  The default is //:vmlinux_o's.")
absl_flags.DEFINE_string("declaration", None,
                         "Translate this declaration file instead of the "
                         "flags (what Bazel's kernel repository rule runs).")
absl_flags.DEFINE_string("result", None,
                         "With --declaration: write {\"gen\": dir, \"watch\": "
                         "[labels]} here on success.")
absl_flags.DEFINE_string("repository", None,
                         "With --declaration: the Bazel repository directory "
                         "that will use the translation (recorded for ./kthin prune).")
absl_flags.DEFINE_string("cache_dir", os.environ.get("KTHINLTO_CACHE") or
                         os.path.expanduser("~/.cache/kthinlto"),
                         "Where extracted sources and object trees live.")


@dataclasses.dataclass(frozen=True)
class Request:
    """A translation's inputs, resolved: source is a pinned package's name
    or an absolute path; spec's files are absolute paths."""
    source: str
    sha256: str | None
    spec: kbuild.ConfigSpec
    arch: str
    jobs: int
    kcflags: str
    cache_dir: str
    # How errors name the settings: flags, or a declaration's fields.
    names: dict = dataclasses.field(default_factory=lambda: kbuild.FLAG_NAMES)


# A declaration's fields, as errors name them.
_FIELD_NAMES = {"target": "config", "config_file": "config_file", "fragments": "fragments",
                "arch": "arch"}


def request_of(decl: declaration.Declaration, workspace: str, jobs: int,
               cache_dir: str, file: str | None = None) -> Request:
    """Resolves a declaration's labels and paths (workspace-relative).
    file: the declaration file (None: the declaration came from flags)."""
    def resolve(value: str, field: str) -> str:
        return declaration.resolve(value, workspace, field)
    pinned = is_pin(decl.source, workspace)
    spec = kbuild.ConfigSpec(
        target="" if decl.config_file else (decl.config or "tinyconfig"),
        config_file=resolve(decl.config_file, "config_file") if decl.config_file else "",
        fragments=tuple(resolve(f, "fragments") for f in decl.fragments))
    return Request(source=decl.source if pinned else resolve(decl.source, "source"),
                   sha256=decl.sha256 or None, spec=spec, arch=decl.arch,
                   jobs=jobs, kcflags=decl.kcflags, cache_dir=cache_dir,
                   names=kbuild.FLAG_NAMES if file is None else _FIELD_NAMES)


def resolve_source(req: Request) -> str:
    src = os.path.abspath(req.source)
    if is_pin(req.source):
        src = pinned_tree(req.source, req.cache_dir)
    elif os.path.isfile(src):
        src = unpack(src, req.sha256, req.cache_dir)
    elif not os.path.isdir(src):
        raise TranslationError(
            f"{req.source}: no such kernel tree or tarball, nor a package pinned "
            f"in tools/kthinlto/sources.json ({', '.join(sorted(read_pins()[1]))}); "
            "pass --source=<one of them>")
    check_kernel_tree(src, req.arch, req.names["arch"])
    return src


def check(req: Request) -> tuple[kbuild.Toolchain, str]:
    """Everything checked before any Kbuild step: (toolchain, source tree)."""
    tc = kbuild.Toolchain()
    kbuild.check_tools(tc)
    srctree = resolve_source(req)
    kbuild.check_spec(req.spec, srctree, arches.srcarch(req.arch), req.names)
    return tc, srctree


def translate(req: Request, user: str | None = None,
              shared: shared_cache.Endpoint | None = None) -> str:
    """Runs the whole translation, or finds it done (in KTHINLTO_CACHE, else
    in the shared cache, if any); returns the generated repository dir.
    user: a Bazel repository directory that will link to it (recorded for
    ./kthin prune).  shared: the team's cache, where a translation made
    here is stored too."""
    tc, srctree = check(req)
    ignored = kbuild.ignored_settings(os.environ)
    if ignored:
        logging.info("ignoring %s from the environment: the translation takes "
                     "settings only from its declaration (kcflags, config, ...)",
                     ", ".join(ignored))
    env = kbuild.kbuild_env(os.environ)
    inputs = translation_inputs(req, srctree, tc)
    key = trees.translation_key(inputs)
    work = os.path.join(req.cache_dir, "trees", key)
    # What a shared entry must say it is (checked when fetched).
    meta = {"key": key, "translator": inputs["translator"], "format": shared_cache.FORMAT}
    try:
        with trees.locked(work):
            if trees.is_complete(work):
                logging.info("reusing %s: translated before from the same source, "
                             "config, flags, translator and LLVM", work)
                gen = os.path.join(work, "gen")
                # Made before the cache was set (or while it was down).
                if shared and shared_cache.missing(shared, key):
                    shared_cache.store(shared, key, work, srctree, meta)
            elif shared and shared_cache.fetch(shared, key, work, srctree, meta):
                gen = os.path.join(work, "gen")
                trees.mark_complete(work)
            else:
                gen = _translate_into(work, req, srctree, tc, env, inputs)
                trees.mark_complete(work)
                if shared:
                    shared_cache.store(shared, key, work, srctree, meta)
            if user:
                trees.record_user(work, user)
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


class Phases:
    """Seconds of each phase of a translation, in order."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = round(now - self._last, 2)
        self._last = now

    def write(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.seconds, f, indent=1)
        logging.info("translation phases: %s", ", ".join(
            f"{name} {s:.1f} s" for name, s in self.seconds.items()))


def _translate_into(work: str, req: Request, srctree: str, tc: kbuild.Toolchain,
                    env: dict, inputs: dict) -> str:
    """Translates into the (new) directory work; returns its gen directory.
    Resumes an earlier translation's Kbuild run if there is one to resume
    (tools/kthinlto/incremental.py)."""
    # A tree left by a translation that stopped half-way is never used.
    shutil.rmtree(work, ignore_errors=True)
    objtree = os.path.join(work, "obj")
    os.makedirs(work)
    log_path = os.path.join(work, "kbuild.log")
    start = time.monotonic()
    phases = Phases()
    try:
        base = incremental.base(req.cache_dir, inputs, srctree, os.environ)
        config_done = False
        if base:
            try:
                changed = incremental.seed(base, work, srctree,
                                           trees.is_extracted(srctree, req.cache_dir))
                config_done = incremental.same_config(base, inputs, changed)
            except incremental.NoBase as e:
                logging.info("incremental: not from %s: %s; translating from scratch", base, e)
                base = None
                for name in ("obj", "probes"):
                    shutil.rmtree(os.path.join(work, name), ignore_errors=True)
            phases.done("seed")
        os.makedirs(objtree, exist_ok=True)
        resumed = incremental.earlier(base) if base else []
        incremental.write_inputs(work, inputs, srctree, resumed)
        probes = kbuild.probes_for(work, tc)
        if config_done:
            logging.info("config: the earlier translation's .config (the same config target, "
                         "files and architecture; no Kconfig, defconfig or scripts/ file changed)")
        else:
            kbuild.configure(srctree, objtree, req.arch, tc, req.spec, log_path,
                             req.jobs, probes)
        phases.done("config")
        rec_dir = kbuild.recorded_build(srctree, objtree, req.arch, tc, work,
                                        req.jobs, log_path, req.kcflags)
        kbuild.normalize_objtool(objtree, tc)
        phases.done("recorded make")
        recs = records.read_records(rec_dir)
        if base:
            redone = len(recs)
            recs = incremental.merge(incremental.base_records(base, work, srctree), recs,
                                     objtree, kbuild.modules_order(objtree))
            incremental.write_records(rec_dir, recs)
            logging.info("incremental: Kbuild redid %d of the %d steps it records", redone,
                         len(recs))
        units = [_with_post_link(u, objtree) for u in graph.units_from_records(
            recs, lambda a: kbuild.archive_members(a, objtree, tc),
            lambda f: kbuild.response_file(f, objtree),
            kbuild.modules_order(objtree))]
        compiles = records.compiles(recs, objtree)
        objs = [p for u in units for p in u.members]
        linked = [compiles[p] for p in dict.fromkeys(objs) if p in compiles]
        # modfinal's .mod.o compiles: their headers too.
        mod_o = [compiles[p] for p in (u.module[:-len(".ko")] + ".mod.o" for u in units
                                       if u.module) if p in compiles]
        # ... and the objects modfinal links into every .ko (6.12's
        # .module-common.o), compiled by the FE like the units' members.
        common = tuple(dict.fromkeys(p for r in recs if r.kind == "link" and graph.is_ko_link(r.argv)
                                     for p in graph.parse_ko_link(r.argv, srctree, objtree)[3][2:]))
        linked += [compiles[p] for p in common if p in compiles]
        phases.done("records")
        inputs = deps.scan(linked + mod_o, tc.clang, tc.scan_deps, objtree, srctree,
                           work, req.jobs, env, cache_dir=req.cache_dir,
                           config=kbuild.read_config(os.path.join(objtree, ".config")))
        for path, extra in deps.scan_incbin(linked, tc.clang, objtree,
                                            srctree, env).items():
            inputs[path] = sorted(set(inputs[path] + extra))
        phases.done("header scan")
        objs = graph.build_objects(units, compiles, inputs, srctree, objtree, common)
        # Each compile's view of the config header: an option then reaches
        # only the compiles whose files name it (autoconf.py).
        views = autoconf.views({o.path: o.inputs for o in objs if not o.prebuilt},
                               srctree, objtree)
        steps = _module_steps(recs, compiles, units, inputs, srctree, objtree, work)
        leaks = graph.host_paths(objs, units, srctree, objtree, steps)
        if leaks:
            raise TranslationError("host path left in flags: " + leaks[0])
        config = emit.kernel_config(srctree, req.arch, req.spec.target,
                                    req.spec.config_file, req.spec.fragments,
                                    req.kcflags)
        data = emit.kernel_data(objs, units, config, kbuild.PINNED_BUILD_ENV,
                                kbuild.kconfig_files(objtree), steps,
                                {p: v[0] for p, v in views.items()})
        # Last, after every read of the tree's saved commands: its bytes
        # the same at any path, but for the binaries the hand-off leaves out.
        not_normal = kbuild.normalize_paths(objtree, work, srctree, tuple(resumed))
        gen = os.path.join(work, "gen")
        # Kbuild's compile_commands.json lists the units' objects, not
        # modfinal's (.module-common.o): neither does ours.
        emit.write(gen, srctree, objtree, data,
                   compile_commands.entries([o for o in objs if o.path not in common],
                                            srctree, objtree, tc.clang),
                   steps.srcversion_cmds if steps else (), not_normal,
                   dict(views.values()))
        phases.done("emit")
        phases.write(os.path.join(work, trees.PHASES))
    except BaseException:
        # Nothing half-written: the workspace still points at the old tree.
        if not os.environ.get("KTHINLTO_KEEP_FAILED"):
            shutil.rmtree(work, ignore_errors=True)
        raise
    nbit = sum(o.bitcode for o in objs)
    modules = sum(1 for u in units if u.module)
    logging.info("translated %d objects (%d bitcode, %d native) in %d link unit%s "
                 "(vmlinux.o%s) in %.1f s", len(objs), nbit, len(objs) - nbit, len(units),
                 "" if len(units) == 1 else "s",
                 f" and {modules} module{'' if modules == 1 else 's'}" if modules else "",
                 time.monotonic() - start)
    return gen


def _module_steps(recs: list[records.Record], compiles: dict[str, records.Compile],
                  units: list[graph.LinkUnit], inputs: dict[str, list[str]],
                  srctree: str, objtree: str, work: str) -> graph.ModuleSteps | None:
    """Kbuild's steps after the modules' link units, as it recorded and
    saved them (None without modules)."""
    if not any(u.module for u in units):
        return None
    # The translation ran the shim as $(MODPOST); the action runs the tree's.
    shim = os.path.join(work, "shims", kbuild.MODPOST_SHIM)
    modpost = kbuild.saved_command(objtree, "Module.symvers")
    if shim not in modpost:
        raise TranslationError(f"{objtree}/.Module.symvers.cmd: Kbuild's modpost command "
                               f"does not run {shim}: {modpost}")
    cmds, files = graph.srcversion_inputs(units, compiles, inputs, srctree, objtree)
    return graph.ModuleSteps(
        srcversion_cmds=cmds, srcversion_files=files,
        modpost=modpost.replace(shim, kbuild.MODPOST),
        builtin=tuple(kbuild.saved_command(objtree, t)
                      for t in ("modules.builtin.modinfo", "modules.builtin")),
        finals=graph.module_finals(recs, compiles, units, inputs, srctree, objtree))


def _with_post_link(unit: graph.LinkUnit, objtree: str) -> graph.LinkUnit:
    """The unit with the command Kbuild ran on its output after the link
    (its saved .<name>.cmd: objtool for vmlinux.o and modules on x86)."""
    saved = os.path.join(objtree, os.path.dirname(unit.name),
                         "." + os.path.basename(unit.name) + ".cmd")
    if not os.path.exists(saved):
        return unit
    with open(saved) as f:
        return dataclasses.replace(unit, post_link=graph.parse_objtool(
            f.readline(), unit.name))


def declaration_of_flags(source: str, sha256: str | None, arch: str,
                         config: str | None, config_file: str,
                         fragments: list[str], kcflags: str) -> declaration.Declaration:
    """The declaration the command-line flags ask for, files as absolute
    paths.

    With none of config, config_file and fragments: the default kernel,
    tinyconfig plus the architecture's bootable fragment, if it has one.
    """
    if config is None and not config_file and not fragments:
        default = declaration.default_fragment(arch)
        fragments = [default] if default else []
        config = "tinyconfig"
    pinned = is_pin(source)
    return declaration.Declaration(
        source=source if pinned else os.path.abspath(source),
        sha256=sha256 or "", arch=arch,
        config="" if config_file else (config or "tinyconfig"),
        config_file=os.path.abspath(config_file) if config_file else "",
        fragments=tuple(f if declaration.is_label(f) else os.path.abspath(f)
                        for f in fragments),
        kcflags=kcflags)


def declare(decl: declaration.Declaration, workspace: str,
            name: str) -> tuple[declaration.Declaration, dict[str, str]]:
    """decl as the workspace declares it: its config files as labels.
    Returns it and the files to copy into kernels/ (label -> file)."""
    copies = {}

    def label(path: str) -> str:
        if not path or declaration.is_label(path):
            return path
        lbl, copy = declaration.as_label(path, workspace, name)
        if copy:
            copies[lbl] = copy
        return lbl
    return dataclasses.replace(
        decl, config_file=label(decl.config_file),
        fragments=tuple(label(f) for f in decl.fragments)), copies


def _configure_from_flags() -> int:
    """./kthin configure: translate the flags' kernel, then declare it."""
    declaration.check_name(FLAGS.name)
    decl = declaration_of_flags(FLAGS.source, FLAGS.sha256, FLAGS.arch,
                                FLAGS.config, FLAGS.config_file, FLAGS.fragment,
                                FLAGS.kcflags)
    translate(request_of(decl, FLAGS.workspace, FLAGS.jobs, FLAGS.cache_dir),
              shared=shared_cache.endpoint(FLAGS.workspace, os.environ))
    # Only a kernel that translated is declared: a failure leaves the
    # workspace as it was.
    declared, copies = declare(decl, FLAGS.workspace, FLAGS.name)
    declaration.copy_into(FLAGS.workspace, copies)
    file = declaration.path(FLAGS.workspace, FLAGS.name)
    declaration.write(file, declared)
    for changed in declaration.register(FLAGS.workspace, FLAGS.name):
        logging.info("declared @%s in %s", FLAGS.name, changed)
    target = "//:vmlinux_o" if FLAGS.name == declaration.DEFAULT_NAME else f"@{FLAGS.name}//:vmlinux_o"
    logging.info("wrote %s; build it with: bazel build %s", file, target)
    return 0


def _translate_declaration() -> int:
    """What the kernel repository rule runs: check (and translate) a
    declaration file; the result goes to --result as JSON."""
    file = FLAGS.declaration
    decl = declaration.read(file, _shown(file, FLAGS.workspace))
    try:
        req = request_of(decl, FLAGS.workspace, FLAGS.jobs, FLAGS.cache_dir, file)
        result = {"gen": translate(req, FLAGS.repository,
                                   shared_cache.endpoint(FLAGS.workspace, os.environ)),
                  "watch": declaration.watched_labels(decl)}
    except TranslationError as e:
        raise TranslationError(f"{_shown(file, FLAGS.workspace)}: {e}") from None
    if FLAGS.result:
        with open(FLAGS.result, "w") as f:
            json.dump(result, f)
    return 0


def _shown(file: str, workspace: str) -> str:
    """A declaration file as errors name it: workspace-relative if inside."""
    rel = os.path.relpath(os.path.abspath(file), os.path.abspath(workspace))
    return file if rel.startswith("..") else rel


def main(argv: list[str]) -> int:
    del argv
    kbuild.log_to_stderr()
    if FLAGS.jobs < 1:
        print(f"kthinlto: error: --jobs={FLAGS.jobs}: must be 1 or more", file=sys.stderr)
        return 1
    try:
        return _translate_declaration() if FLAGS.declaration else _configure_from_flags()
    except TranslationError as e:
        print(f"kthinlto: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    app.run(main)
