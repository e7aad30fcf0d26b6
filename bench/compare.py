"""kthinlto against Kbuild's in-process ThinLTO, side by side, one run.

Same tree (a private hard-linked copy of the source), same config, same
machine, same -j.  Measures, for each side:
  cold     what the user waits for from a pristine tree and a config, to
           vmlinux.o: Kbuild's config, then `make vmlinux_o` in an empty
           object tree; kthinlto's translation (tools.kthinlto.configure),
           with an empty KTHINLTO_CACHE of the bench's own (nothing to
           resume or reuse), then `bazel build` in a new output base; each
           part and the sum.
           The translation is stored in, and the cold bazel build writes
           to, a shared disk cache (the workspace's user.bazelrc: `build:shared
           --disk_cache=<work>/shared_cache`, built with --config=shared):
           the figure includes filling it, what a team's shared cache costs
           (the edit and null builds do not use it);
  fresh    kthinlto only, right after the cold build (the tree unedited): a
           fresh clone at another path (a copy of the bench's workspace,
           which declares the same kernel) builds the same targets in a new,
           empty output base with that warm shared cache and an empty
           KTHINLTO_CACHE, so Bazel's kernel repository rule takes the
           translation from that cache (tools/kthinlto/shared_cache.py), as
           on a new machine, inside the timed build (its Python:
           KTHINLTO_PYTHON, this one, as the empty cache has no virtual
           environment).  Against Kbuild's cold build; with how many of its
           actions were cache hits and how many ran (Bazel's process
           summary on stderr, not an execution log, which would cost time
           at the end of the build).  Its server is then shut down and its
           output base, translation cache and clone deleted;
  edit     rebuild after the same one-line code change in kernel/sys.c;
  null     rebuild with nothing changed;
  update   kthinlto only, last: a kernel update (a copy of the tree with
           UPDATE's files changed), then one config option changed
           (OPTION): each translated again (incremental.py resumes the cold
           translation) and built, timed apart, with the translation
           against the cold one and how many actions the build ran.
Prints each figure and the ratio kthinlto / Kbuild, and the backend figures
(from `bazel aquery`, the bundles, and which BE outputs the edit build
rewrote), and the cold build explained as `./kthin report` explains it:
its critical path, its simulation on its own --jobs slots beside its measured
wall time, and on N remote workers.  Nothing is logged during the timed
builds but Bazel's JSON profile (which every build writes, .bazelrc).

With --modules both sides build the loadable modules too, and the same
files: vmlinux.o, vmlinux and System.map, every .ko and the modules_install
tree.  Kbuild: `make vmlinux modules`, then `make modules_install`
(INSTALL_MOD_PATH in its object tree), timed together; kthinlto: `bazel
build //:vmlinux_o //:vmlinux //:modules` (vmlinux by Kbuild's
link-vmlinux.sh; the modules by modpost over vmlinux.o, then per module its
.mod.o and .ko, then the install, beside it).  Every .ko of the cold build
is compared with Kbuild's (symbols, binding kept, and whole modinfo:
tools/kthinlto/elf.py); a difference is printed, and the run exits 1 after
printing its figures.  A
second edit, a one-line code change in a module (fs/fuse/control.c, part of
fs/fuse/fuse.ko), is timed after the kernel/sys.c one; then the null build.
It prints how many modules each side installed, how many have several
objects, the BE actions of vmlinux.o and of the modules per build, which
BE each edit re-ran, and which .ko files each side wrote again.

  python3 -m bench.compare                      # default kernel (tinyconfig)
  python3 -m bench.compare --config=defconfig --keep --profiles=/tmp/prof
  python3 -m bench.compare --modules --fragment=configs/bootable.config \\
      --fragment=configs/bench-modules.config   # 111 modules (BENCHMARKS.md)
  python3 -m bench.compare --reuse=/tmp/kthinlto-bench-XXXX   # edit and null
      # again, side by side, on the trees a --keep run left, with this
      # checkout's rules (with --modules if that run had it)
"""

import collections
import dataclasses
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from bench import cold, modules, phases
from bench.bare import backends, deps_of
from bench.report import print_backends, print_counts, print_reasons, print_rows, shown
from bench.bundles import bundle_stats, format_stats
from bench.reruns import output_changes, rewritten, save_outputs, stamps
from bench.common import REPO, copy_checkout, copy_workspace, edit, timed, timed_stderr
from tools.kthinlto import bundle, buildgraph, elf, emit, execlog, kbuild, report, source, trees

FLAGS = flags.FLAGS
flags.DEFINE_string("config", "tinyconfig", "Config target.")
flags.DEFINE_multi_string("fragment", [], "Config fragments.")
flags.DEFINE_integer("jobs", os.cpu_count() or 2, "Parallel jobs for both sides.")
flags.DEFINE_bool("keep", False, "Keep the work directory.")
flags.DEFINE_string("reuse", None, "A work directory kept by --keep: skip the cold "
                    "builds and measure the edit and null builds again, side by side, "
                    "with this checkout's rules (each side first takes the edit back "
                    "and rebuilds, untimed).")
flags.DEFINE_string("profiles", None, "Directory to keep Bazel's JSON profiles of "
                    "the cold, edit and null builds in, each with its action graph (for "
                    "`./kthin report --profile=... --aquery=...`); default: a new one "
                    "in /tmp.")
flags.DEFINE_bool("modules", False, "Build the loadable modules too, on both sides "
                  "(the config needs CONFIG_MODULES and FUSE_FS=m: "
                  "configs/bench-modules.config), and time a one-line edit in a module.")

# The name Bazel knows the kernel by (configure's default declaration).
REPO_NAME = "kernel"
# The config of the bench workspace's user.bazelrc that names the shared cache.
SHARED = "shared"


def targets() -> tuple[str, ...]:
    return ("//:vmlinux_o", "//:vmlinux", "//:modules") if FLAGS.modules else ("//:vmlinux_o",)


def edits() -> list[modules.Edit]:
    """The timed edits, in order."""
    return [modules.KERNEL_EDIT, modules.MODULE_EDIT] if FLAGS.modules else [modules.KERNEL_EDIT]


@dataclasses.dataclass(frozen=True)
class BackendFiles:
    """One BE action: its object module, its link unit's target, and the
    absolute paths of its bundle and its output."""
    module: str
    unit: str
    bundle: str
    output: str


def bazel_info(bazel: list[str], ws: str, key: str) -> str:
    return subprocess.run(bazel + ["info", key], cwd=ws, check=True,
                          capture_output=True, text=True).stdout.strip()


def backend_files(bazel: list[str], ws: str) -> dict[str, BackendFiles]:
    """Every BE action of the targets, by name (modules.backend_keys), from
    the ThinLtoBackend actions' command lines (a BE declares its own bitcode
    and its bundle, which holds the imported bitcode)."""
    root = bazel_info(bazel, ws, "execution_root")
    found = backends(bazel, ws, targets())
    units = [modules.unit_of_output(b.output, b.module) for b in found]
    names = modules.backend_keys([(u, b.module) for u, b in zip(units, found)])
    return {name: BackendFiles(b.module, u, os.path.join(root, b.bundle),
                               os.path.join(root, b.output))
            for name, u, b in zip(names, units, found)}


def bundle_digests(files: dict[str, BackendFiles]) -> dict[str, dict[str, str]]:
    return {name: bundle.member_digests(f.bundle) for name, f in files.items()}


def mean_bitcode_inputs(digests: dict[str, dict[str, str]]) -> float:
    """Declared bitcode inputs per BE: its own bitcode and its bundle's
    (every member but the index and the import list)."""
    counts = [1 + len(members) - 2 for members in digests.values()]
    return sum(counts) / max(1, len(counts))


def rerun_reasons(rerun: list[str], before: dict[str, dict[str, str]],
                  files: dict[str, BackendFiles]) -> dict[str, list[str]]:
    """Why each re-run BE re-ran (what in its bundle changed, else its own
    bitcode) -> the BE that re-ran for that reason."""
    reasons: dict[str, list[str]] = collections.defaultdict(list)
    for name in rerun:
        f = files[name]
        why = bundle.why_changed(f.module, before[name], bundle.member_digests(f.bundle))
        reasons["own bitcode" if why == "unchanged" else why].append(name)
    return dict(reasons)


def profile_path(build: str) -> str:
    return os.path.join(os.path.abspath(FLAGS.profiles), build) + ".prof.gz"


def aquery_path(build: str) -> str:
    """Where the action graph of a profiled build is saved (for `./kthin
    report --aquery`)."""
    return profile_path(build) + ".aquery.json.gz"


def profile(build: str) -> list[str]:
    """Bazel's JSON profile of one build (--profiles, or the work directory):
    every build writes one anyway (.bazelrc's flags, in the output base)."""
    os.makedirs(FLAGS.profiles, exist_ok=True)
    return [f"--profile={profile_path(build)}", *phases.PROFILE_FLAGS]


def save_mnemonics(bazel: list[str], ws: str, *builds: str) -> None:
    """Beside each build's profile, which mnemonic writes which output (the
    profile has the outputs only), and the whole action graph."""
    out = subprocess.run(bazel + ["aquery", "--output=jsonproto", deps_of(targets())],
                         cwd=ws, check=True, capture_output=True, text=True).stdout
    graph = json.loads(out)
    mnemonics = phases.mnemonics_of(execlog.aquery_outputs(graph))
    for build in builds:
        with open(phases.mnemonics_path(profile_path(build)), "w") as f:
            json.dump(mnemonics, f)
        with gzip.open(aquery_path(build), "wt") as f:
            json.dump(graph, f)


def explained(build: str) -> dict:
    """`./kthin report`'s figures of a profiled build (no execution log):
    its critical path, its simulation on its own --jobs slots beside its
    measured wall, and on N remote workers."""
    graph = buildgraph.load_profile(aquery_path(build))
    prof = buildgraph.load_profile(profile_path(build))
    return report.figures(prof, buildgraph.build_of(prof, buildgraph.actions_of(graph)), [],
                          None, FLAGS.jobs, 0, list(REPORT_WORKERS), REPORT_OVERHEAD)


# The remote workers the bench simulates, and each remote action's overhead
# in seconds (kthin report's defaults).
REPORT_WORKERS = (1, 2, 8, 32, 100, 1000)
REPORT_OVERHEAD = 0.3


def print_explained(build: str, f: dict) -> None:
    walls = dict((n, w) for n, w in f["simulated"])
    print(f"{build} build, explained (kthin report): critical path "
          f"{f['critical_path_seconds']:.1f} s ({len(f['critical_path'])} actions); "
          f"simulated on {FLAGS.jobs} local slots {f['simulated_own_slots']:.1f} s, "
          f"measured {f['measured']:.1f} s (first action to last; simulated / measured "
          f"{f['simulated_own_slots'] / f['measured']:.3f}); 100 remote workers "
          f"(+{REPORT_OVERHEAD} s each) {walls[100]:.1f} s = "
          f"{walls[100] / f['critical_path_seconds']:.2f} x the critical path")
    print("  simulated wall on N workers: " + ", ".join(
        f"{n}: {w:.1f} s" for n, w in f["simulated"]))


def print_phases(*builds: str) -> None:
    """Per ThinLTO phase, where each build's time went."""
    for build in builds:
        if os.path.exists(profile_path(build)):
            print(f"{build} build, from Bazel's profile:")
            path = profile_path(build)
            print(phases.report(phases.load(path), phases.load_mnemonics(path),
                                FLAGS.jobs, incremental=build != "cold"))


def kbuild_makes(src: str, kobj: str) -> list[list[str]]:
    """Kbuild's build, one or two makes (timed together): vmlinux.o; with
    --modules vmlinux and the modules, then modules_install."""
    make = kbuild.make_args(src, kobj, "x86_64", kbuild.Toolchain()) + [f"-j{FLAGS.jobs}"]
    if not FLAGS.modules:
        return [make + ["vmlinux_o"]]
    return [make + ["vmlinux", "modules"],
            make + ["modules_install", f"INSTALL_MOD_PATH={os.path.join(kobj, '.install')}"]]


def timed_all(cmds: list[list[str]]) -> float:
    return sum(timed(cmd) for cmd in cmds)


def bazel_build(bazel: list[str], *extra: str) -> list[str]:
    return bazel + ["build", f"--jobs={FLAGS.jobs}", *targets(), *extra]


def profile_name(e: modules.Edit) -> str:
    return "module_edit" if e.module else "edit"


@dataclasses.dataclass(frozen=True)
class Kos:
    """Each module's .ko in Kbuild's object tree and in Bazel's output
    (module -> path), to tell which ones a build wrote again."""
    kbuild: dict[str, str]
    ours: dict[str, str]


def kos_of(kobj: str, bazel: list[str], ws: str) -> Kos:
    order = kbuild.modules_order(kobj)
    out = os.path.join(bazel_info(bazel, ws, "bazel-bin"), "external", REPO_NAME, "modules")
    return Kos({ko: os.path.join(kobj, ko) for ko in order},
               {ko: os.path.join(out, ko) for ko in order})


@dataclasses.dataclass(frozen=True)
class EditResult:
    edit: modules.Edit
    ours: float
    kbuild: float
    rerun: list[str]                 # the BE Bazel ran again
    why: dict[str, list[str]]        # why they re-ran -> them
    changes: dict[str, list[str]]    # how their objects changed -> them
    relinked: tuple[list[str], list[str]]  # the .ko each side wrote again (ours, Kbuild's)


def edit_build(src: str, e: modules.Edit, makes: list[list[str]], bazel: list[str],
               ws: str, files: dict[str, BackendFiles],
               before: dict[str, dict[str, str]], kos: Kos | None) -> EditResult:
    """One of the edits for both sides: Kbuild's and kthinlto's times, the
    BE actions Bazel re-ran, why (from the bundles' member digests `before`
    the edit) and how their objects changed, and which .ko each side wrote
    again."""
    kos = kos or Kos({}, {})
    edit(src, e)
    k_before = stamps(kos.kbuild)
    k = timed_all(makes)
    k_relinked = rewritten(k_before, stamps(kos.kbuild))
    outputs = {name: f.output for name, f in files.items()}
    with tempfile.TemporaryDirectory(prefix="kthinlto-bench-be-") as saved:
        save_outputs(outputs, saved)
        before_stamps, our_kos = stamps(outputs), stamps(kos.ours)
        b = timed(bazel_build(bazel, *profile(profile_name(e))), cwd=ws)
        rerun = rewritten(before_stamps, stamps(outputs))
        our_relinked = rewritten(our_kos, stamps(kos.ours))
        changes = output_changes(rerun, saved, outputs)
    return EditResult(e, b, k, rerun, rerun_reasons(rerun, before, files), changes,
                      (our_relinked, k_relinked))


def edits_and_null(src: str, makes: list[list[str]], bazel: list[str], ws: str,
                   files: dict[str, BackendFiles], before: dict[str, dict[str, str]],
                   kos: Kos | None) -> tuple[list[EditResult], float, float]:
    """The edits in turn (each against the bundles as the build before it
    left them), then null builds: the edits' results, kthinlto's and
    Kbuild's null build."""
    results = []
    for n, e in enumerate(edits()):
        if n:
            before = bundle_digests(files)  # untimed
        results.append(edit_build(src, e, makes, bazel, ws, files, before, kos))
    k_null = timed_all(makes)
    b_null = timed(bazel_build(bazel, *profile("null")), cwd=ws)
    subprocess.run(bazel + ["shutdown"], cwd=ws, check=False)
    return results, b_null, k_null


def edit_rows(results: list[EditResult]) -> list[tuple[str, float, float]]:
    return [(f"after a one-line edit of {r.edit.file}", r.ours, r.kbuild) for r in results]


def print_edits(results: list[EditResult], files: dict[str, BackendFiles]) -> None:
    """Per edit: which BE re-ran, why, what they wrote; with modules, which
    .ko each side wrote again."""
    for r in results:
        print(f"BE actions re-run after the edit of {r.edit.file}: {len(r.rerun)} of "
              f"{len(files)}" + (f" ({shown(r.rerun)})" if FLAGS.modules and r.rerun else ""))
        print_reasons(r.why, r.changes)
        if FLAGS.modules:
            ours, theirs = r.relinked
            print(f".ko written again: kthinlto {len(ours)}" + (f" ({shown(ours)})" if ours else "")
                  + f", Kbuild {len(theirs)}" + (f" ({shown(theirs)})" if theirs else ""))


def be_rows(files: dict[str, BackendFiles], results: list[EditResult]
            ) -> tuple[list[tuple[str, int, int]], int]:
    """BE actions of vmlinux.o and of the modules, cold and per edit; how
    many module link units."""
    units = {n: f.unit for n, f in files.items()}
    return (modules.backend_rows(units, [(r.edit.file, r.rerun) for r in results]),
            len(set(units.values()) - {"vmlinux_o"}))


def module_sides(kobj: str, bazel: list[str], ws: str) -> tuple[modules.Side, modules.Side]:
    """What each side installed, and each module's objects: Bazel's link
    units (the translation's kernel.bzl), Kbuild's .mod files."""
    ob = bazel_info(bazel, ws, "output_base")
    data = emit.read_kernel_bzl(os.path.join(ob, "external", REPO_NAME, "kernel.bzl"))
    tree = os.path.join(bazel_info(bazel, ws, "bazel-bin"), "external", REPO_NAME,
                        "modules", "install")
    order = kbuild.modules_order(kobj)
    theirs = {ko: kbuild.response_file(ko[:-len(".ko")] + ".mod", kobj) for ko in order}
    return (modules.Side(modules.installed(tree), modules.unit_members(data)),
            modules.Side(modules.installed(os.path.join(kobj, ".install")), theirs))


def print_modules(ours: modules.Side, theirs: modules.Side) -> None:
    print_counts(modules.count_rows(ours, theirs))
    several = modules.several_objects(ours.objects)
    print(f"of several objects (kthinlto's link units): {', '.join(several)}")
    for ko, dirs in modules.several_directories(ours.objects).items():
        print(f"  {ko}: objects in {', '.join(dirs)}")


def module_json(ours: modules.Side, theirs: modules.Side, files: dict[str, BackendFiles],
                results: list[EditResult]) -> dict:
    return {
        "counts": {what.strip(): [a, b] for what, a, b in modules.count_rows(ours, theirs)},
        "several_objects": modules.several_objects(ours.objects),
        "several_directories": modules.several_directories(ours.objects),
        "be": {what: [a, b] for what, a, b in be_rows(files, results)[0]},
        "be_rerun": {r.edit.file: r.rerun for r in results},
        "ko_written_again": {r.edit.file: [len(r.relinked[0]), len(r.relinked[1])]
                             for r in results},
    }


# The kernel update: files of the bench's tree and the text appended to
# each (a Makefile's flags, a new header and its first user, assembly).
UPDATE = {
    "kernel/Makefile": "\nCFLAGS_sys.o += -DKTHINLTO_BENCH_UPDATE\n",
    "include/linux/kthinlto_bench.h": "#define KTHINLTO_BENCH 1\n",
    "kernel/panic.c": "#include <linux/kthinlto_bench.h>\n",
    "arch/x86/kernel/head_64.S": "/* kthinlto bench: update */\n",
}
# One config option changed (every config has it; its users are few).
OPTION = 'CONFIG_LOCALVERSION="-kthinlto-bench"\n'


def updated_tree(src: str, dest: str) -> str:
    """A hard-linked copy of src with UPDATE applied (new files, the
    shared inodes untouched)."""
    subprocess.run(["cp", "-al", src, dest], check=True)
    for rel, text in UPDATE.items():
        path = os.path.join(dest, rel)
        old = ""
        if os.path.exists(path):
            with open(path) as f:
                old = f.read()
            os.remove(path)
        with open(path, "w") as f:
            f.write(old + text)
    return dest


@dataclasses.dataclass(frozen=True)
class Retranslation:
    what: str
    translation: float      # seconds
    build: float            # seconds, the bazel build after it
    executed: int           # actions the build ran
    redone: str             # the translator's "Kbuild redid N of M steps"


def retranslate(what: str, ws: str, bazel: list[str], args: list[str]) -> Retranslation:
    """configure (args) in ws, then bazel build, each timed."""
    seconds, stderr = timed_stderr([sys.executable, "-m", "tools.kthinlto.configure",
                                    f"--workspace={ws}", *args], cwd=REPO)
    redone = re.search(r"Kbuild redid \d+ of the \d+ steps", stderr)
    build, out = timed_stderr(bazel_build(bazel, *profile(what)), cwd=ws)
    procs = cold.processes(out)
    return Retranslation(what, seconds, build, procs.executed if procs else -1,
                         redone.group(0) if redone else "from scratch")


def retranslations(work: str, src: str, ws: str, bazel: list[str],
                   args: list[str]) -> list[Retranslation]:
    """The update, then the option, each from the cold translation (args:
    its configure arguments but the source); then the cold declaration
    again (reused, as a --reuse run expects)."""
    updated = updated_tree(src, os.path.join(work, "linux-update"))
    option = os.path.join(work, "option.config")
    with open(option, "w") as f:
        f.write(OPTION)
    out = [retranslate("update", ws, bazel, [f"--source={updated}", *args]),
           retranslate("option", ws, bazel, [f"--source={src}", *args, f"--fragment={option}"])]
    timed([sys.executable, "-m", "tools.kthinlto.configure", f"--workspace={ws}",
           f"--source={src}", *args], cwd=REPO)
    return out


def translation_phases(bazel: list[str], ws: str) -> dict[str, float]:
    """Seconds of each phase of the translation @kernel links to (its
    tree's trees.PHASES)."""
    ob = subprocess.run(bazel + ["info", "output_base"], cwd=ws, capture_output=True,
                        text=True, check=True).stdout.strip()
    gen = os.path.dirname(os.path.realpath(os.path.join(ob, "external", REPO_NAME, "kernel.bzl")))
    with open(os.path.join(os.path.dirname(gen), trees.PHASES)) as f:
        return json.load(f)


def fresh_clone(work: str, ws: str) -> tuple[float, cold.Processes | None]:
    """The targets built by a fresh clone of ws (at <work>/clone), in a new
    output base, with the shared disk cache (ws's user.bazelrc) and an
    empty KTHINLTO_CACHE (the translation comes from the shared cache, or is
    made again, in the timed build): seconds, and its processes.  Then its output base (`clean --expunge` also shuts its
    server down), translation cache and clone are deleted."""
    clone, cache = os.path.join(work, "clone"), os.path.join(work, "clone_cache")
    bazel = ["bazel", f"--output_base={os.path.join(work, 'clone_ob')}"]
    env = cold.fresh_env(os.environ, cache, sys.executable)
    copy_workspace(ws, clone)
    try:
        seconds, stderr = timed_stderr(bazel_build(bazel, f"--config={SHARED}"),
                                       cwd=clone, env=env)
    finally:
        subprocess.run(bazel + ["clean", "--expunge"], cwd=clone, env=env, check=False)
        for d in (clone, cache):
            shutil.rmtree(d, ignore_errors=True)
    return seconds, cold.processes(stderr)


def use_own_cache(work: str) -> None:
    """kthinlto's side, from here on, with an empty KTHINLTO_CACHE of its
    own (<work>/kthinlto_cache), as on a machine that never translated: no
    earlier translation to resume (incremental.py), no header scan to reuse
    (scan_cache.py).  The translator's Python is this one (KTHINLTO_PYTHON:
    making a virtual environment is not what is measured)."""
    os.environ.update(cold.fresh_env({}, os.path.join(work, "kthinlto_cache"), sys.executable))


def refresh_checkout(ws: str) -> None:
    """This checkout's files into a kept workspace, but the kernel it
    declared kept: its kernels/ (the declaration of the bench's tree and
    config, and the fragments copied for it) is the cold run's, not this
    checkout's default kernel."""
    declared = os.path.join(ws, "kernels")
    with tempfile.TemporaryDirectory(prefix="kthinlto-bench-kernels-") as tmp:
        kept = os.path.join(tmp, "kernels")
        shutil.copytree(declared, kept, symlinks=True)
        copy_checkout(ws)
        shutil.rmtree(declared)
        shutil.copytree(kept, declared, symlinks=True)


def reuse(work: str) -> None:
    """Edit and null builds again on the trees a --keep run left."""
    # Kept after the work directory goes (a few MB).
    FLAGS.profiles = FLAGS.profiles or tempfile.mkdtemp(prefix="kthinlto-bench-profiles-")
    print(f"bench: profiles and action graphs in {FLAGS.profiles}", file=sys.stderr)
    src, ws = os.path.join(work, "linux"), os.path.join(work, "ws")
    kobj = os.path.join(work, "kbuild")
    for path in (src, ws, kobj):
        if not os.path.isdir(path):
            raise SystemExit(f"--reuse={work}: {path} is missing; give a work "
                             "directory that `bench.compare --keep` left")
    makes = kbuild_makes(src, kobj)
    use_own_cache(work)
    bazel = ["bazel", f"--output_base={os.path.join(work, 'ob')}"]
    for e in edits():
        edit(src, e, undo=True)
    refresh_checkout(ws)
    print("bench: back to the unedited tree on both sides (untimed)", file=sys.stderr)
    timed_all(makes)
    timed(bazel_build(bazel), cwd=ws)
    save_mnemonics(bazel, ws, "edit", "module_edit", "null")
    files = backend_files(bazel, ws)
    kos = kos_of(kobj, bazel, ws) if FLAGS.modules else None
    results, b_null, k_null = edits_and_null(src, makes, bazel, ws, files,
                                             bundle_digests(files), kos)
    print(f"reused {work}: -j{FLAGS.jobs}, {os.cpu_count()} cores"
          + (", with modules" if FLAGS.modules else ""))
    print_rows(edit_rows(results) + [("null build", b_null, k_null)])
    if FLAGS.modules:
        print_backends(*be_rows(files, results))
    print_edits(results, files)
    print_phases(*(profile_name(r.edit) for r in results))
    first = results[0]
    print(json.dumps({"reuse": work, "edit": [first.ours, first.kbuild],
                      "null": [b_null, k_null], "be_rerun": len(first.rerun),
                      "why": {k: len(v) for k, v in first.why.items()},
                      "objects": {k: len(v) for k, v in first.changes.items()},
                      "edits": {r.edit.file: [r.ours, r.kbuild] for r in results}}))


def warm_page_cache(dirs: list[str]) -> None:
    """Reads every file under dirs once (into the page cache)."""
    start = time.monotonic()
    for d in dirs:
        subprocess.run("find . -type f -print0 | xargs -0 cat > /dev/null", shell=True,
                       cwd=d, check=True)
    print(f"bench: page cache warmed ({', '.join(dirs)}) in {time.monotonic() - start:.1f} s",
          file=sys.stderr)


def check_same_config(kbuild_config: str, ours_config: str) -> None:
    """Stops the bench unless both sides built the same configuration."""
    diff = cold.config_differences(kbuild.read_config(kbuild_config, unset=True),
                                   kbuild.read_config(ours_config, unset=True))
    if diff:
        raise SystemExit(f"bench: {ours_config} differs from Kbuild's {kbuild_config} in "
                         f"{len(diff)} options ({'; '.join(diff[:5])}): the two sides did not "
                         "build the same kernel; nothing is reported")


def main(argv):
    del argv
    if FLAGS.reuse:
        reuse(os.path.abspath(FLAGS.reuse))
        return
    work = tempfile.mkdtemp(prefix="kthinlto-bench-")
    print(f"bench: work directory {work}", file=sys.stderr)
    # Kept after the work directory goes (a few MB).
    FLAGS.profiles = FLAGS.profiles or tempfile.mkdtemp(prefix="kthinlto-bench-profiles-")
    print(f"bench: profiles and action graphs in {FLAGS.profiles}", file=sys.stderr)
    try:
        src = os.path.join(work, "linux")
        pristine = source.pinned_tree(source.read_pins()[0],
                                      source.default_cache_dir())
        subprocess.run(["cp", "-al", pristine, src], check=True)
        use_own_cache(work)
        spec = kbuild.ConfigSpec(target=FLAGS.config, fragments=tuple(
            os.path.abspath(f) for f in FLAGS.fragment))

        # Both sides start with the source and the toolchain in the page
        # cache: the side that runs first does not pay for reading them.
        clang = os.path.realpath(shutil.which(kbuild.Toolchain().clang))
        warm_page_cache([src, os.path.dirname(os.path.dirname(clang))])

        # Kbuild, cold.
        kobj = os.path.join(work, "kbuild")
        os.makedirs(kobj)
        start = time.monotonic()
        kbuild.configure(src, kobj, "x86_64", kbuild.Toolchain(), spec,
                         os.path.join(work, "kbuild.log"), FLAGS.jobs)
        kconfig = time.monotonic() - start
        if FLAGS.modules:
            try:
                modules.check_config(kbuild.read_config(os.path.join(kobj, ".config")),
                                     modules.MODULE_EDIT)
            except ValueError as e:
                raise SystemExit(f"--modules: {e}; add --fragment=configs/bootable.config "
                                 "--fragment=configs/bench-modules.config") from None
        makes = kbuild_makes(src, kobj)
        kmake = timed_all(makes)

        # kthinlto, cold: translation, then bazel build in a new output
        # base, filling the shared disk cache.
        ws = os.path.join(work, "ws")
        copy_checkout(ws)
        bazel = ["bazel", f"--output_base={os.path.join(work, 'ob')}"]
        shared_cache = os.path.join(work, "shared_cache")
        # The team's cache, set once as a user does: the translation is
        # stored there, the cold build fills it, the fresh clone reads both.
        with open(os.path.join(ws, "user.bazelrc"), "w") as f:
            f.write(f"build:{SHARED} --disk_cache={shared_cache}\n")
        config_args = ([f"--config={FLAGS.config}", f"--jobs={FLAGS.jobs}"]
                       + [f"--fragment={f}" for f in FLAGS.fragment])
        translate = timed([sys.executable, "-m", "tools.kthinlto.configure",
                           f"--workspace={ws}", f"--source={src}", *config_args], cwd=REPO)
        # No execution log in the timed cold build: Bazel writes the log
        # (every input of every action) as JSON at the end, which Kbuild's
        # side does not pay for.  The BE figures come from aquery afterwards.
        b_cold = timed(bazel_build(bazel, f"--config={SHARED}", *profile("cold")),
                       cwd=ws)
        check_same_config(os.path.join(kobj, ".config"),
                          os.path.join(work, "ob", "external", "kernel", "obj", ".config"))
        # A fresh clone with the shared cache, before any edit (the edit and
        # null builds below do not use the shared cache).
        phases_of_translation = translation_phases(bazel, ws)
        fresh, fresh_processes = fresh_clone(work, ws)
        c = cold.Cold(translate, b_cold, kconfig, kmake, fresh, fresh_processes)
        save_mnemonics(bazel, ws, "cold", "edit", "module_edit", "null")
        cold_explained = explained("cold")
        files = backend_files(bazel, ws)
        before = bundle_digests(files)
        mean_inputs, n_backends = mean_bitcode_inputs(before), len(files)
        weight = bundle_stats({n: f.bundle for n, f in files.items()},
                              {n: f.module for n, f in files.items()})
        kos, sides, differences = None, None, []
        if FLAGS.modules:
            kos = kos_of(kobj, bazel, ws)
            sides = module_sides(kobj, bazel, ws)
            differences = elf.module_differences(kos.ours, kos.kbuild)

        results, b_null, k_null = edits_and_null(src, makes, bazel, ws, files, before, kos)
        again = retranslations(work, src, ws, bazel, config_args)
    finally:
        if not FLAGS.keep:
            shutil.rmtree(work, ignore_errors=True)

    label = FLAGS.config + "".join(f"+{os.path.basename(f)}" for f in FLAGS.fragment)
    built = "vmlinux.o, vmlinux, modules" if FLAGS.modules else "vmlinux.o"
    rows = [*cold.rows(c), *edit_rows(results), ("null build", b_null, k_null)]
    print(f"config: {label} (x86_64, ThinLTO), -j{FLAGS.jobs}, {os.cpu_count()} cores; "
          f"built: {built}")
    print_rows(rows)
    print("cold translation, its phases: " + ", ".join(
        f"{name} {s:.1f} s" for name, s in phases_of_translation.items())
        + f"; the rest (source, key, shared cache) {c.translation - sum(phases_of_translation.values()):.1f} s")
    print(f"fresh clone (new output base, empty KTHINLTO_CACHE, the cold build's disk "
          f"cache): {cold.describe_processes(c.fresh_processes)}")
    for r in again:
        print(f"{r.what} ({len(UPDATE)} files changed)" if r.what == "update" else
              f"{r.what} ({OPTION.strip()})", end=": ")
        print(f"translation {r.translation:.1f} s = {r.translation / c.translation:.3f} of the "
              f"cold one ({r.redone}); its build {r.build:.1f} s, {r.executed} actions run")
    if sides:
        print_modules(*sides)
        print(f"modules different from Kbuild's (symbols, modinfo): {len(differences)} of "
              f"{len(kos.kbuild)}" + "".join(f"\n  {d}" for d in differences))
        print_backends(*be_rows(files, results))
    print(f"BE actions: {n_backends}; mean declared bitcode inputs per BE: "
          f"{mean_inputs:.2f} (= 1 + {mean_inputs - 1:.2f} imports; "
          f"declaring all would be {n_backends})")
    print(format_stats(weight))
    print_edits(results, files)
    first = results[0]
    summary = {"config": label, **cold.summary(c), "translation_phases": phases_of_translation,
               "edit": [first.ours, first.kbuild],
               "null": [b_null, k_null], "be": n_backends,
               "mean_bitcode_inputs": mean_inputs, "bundle_bytes": weight.bytes,
               "be_rerun": len(first.rerun), "why": {k: len(v) for k, v in first.why.items()},
               "objects": {k: len(v) for k, v in first.changes.items()},
               "retranslation": {r.what: {"translation": r.translation,
                                          "of_cold": r.translation / c.translation,
                                          "build": r.build, "executed": r.executed,
                                          "redone": r.redone} for r in again}}
    if sides:
        summary["edits"] = {r.edit.file: [r.ours, r.kbuild] for r in results}
        summary["modules"] = module_json(*sides, files, results)
        summary["modules"]["different_from_kbuild"] = differences
    summary["explained"] = {k: cold_explained[k] for k in (
        "critical_path_seconds", "simulated_own_slots", "measured", "simulated")}
    print(json.dumps(summary))
    print_phases("cold", *(profile_name(r.edit) for r in results))
    print_explained("cold", cold_explained)
    if differences:
        raise SystemExit(f"bench: {len(differences)} modules differ from Kbuild's (above)")


if __name__ == "__main__":
    app.run(main)
