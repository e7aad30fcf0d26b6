"""kthinlto against Kbuild's in-process ThinLTO, side by side, one run.

Same tree (a private hard-linked copy of the source), same config, same
machine, same -j.  Measures, for each side:
  cold     full build to vmlinux.o from an empty object tree / output base
           (Kbuild: config + `make vmlinux_o`; kthinlto: `bazel build`,
           translation reported separately);
  edit     rebuild after the same one-line code change in kernel/sys.c;
  null     rebuild with nothing changed.
Prints each figure and the ratio kthinlto / Kbuild, and the backend figures
(from `bazel aquery`, the bundles, and which BE outputs the edit build
rewrote).  Nothing is logged during the timed builds except, with
--profiles, Bazel's JSON profile.

  python3 -m bench.compare                      # default kernel (tinyconfig)
  python3 -m bench.compare --config=defconfig --keep --profiles=/tmp/prof
  python3 -m bench.compare --reuse=/tmp/kthinlto-bench-XXXX   # edit and null
      # again, side by side, on the trees a --keep run left, with this
      # checkout's rules
"""

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from bench import phases
from bench.bare import backends
from bench.report import print_reasons, print_rows
from bench.bundles import bundle_stats, format_stats
from bench.reruns import output_changes, rewritten, save_outputs, stamps
from bench.common import REPO, copy_checkout, timed
from tools.kthinlto import bundle, execlog, kbuild, source

FLAGS = flags.FLAGS
flags.DEFINE_string("config", "tinyconfig", "Config target.")
flags.DEFINE_multi_string("fragment", [], "Config fragments.")
flags.DEFINE_integer("jobs", os.cpu_count() or 2, "Parallel jobs for both sides.")
flags.DEFINE_bool("keep", False, "Keep the work directory.")
flags.DEFINE_string("reuse", None, "A work directory kept by --keep: skip the cold "
                    "builds and measure the edit and null builds again, side by side, "
                    "with this checkout's rules (each side first takes the edit back "
                    "and rebuilds, untimed).")
flags.DEFINE_string("profiles", None, "Directory to save Bazel's JSON profiles of "
                    "the cold, edit and null builds in (for `bazel analyze-profile`).")

EDIT_FILE = "kernel/sys.c"
EDIT_OLD = "\treturn task_tgid_vnr(current);\n}"
EDIT_NEW = "\treturn task_tgid_vnr(current) + 1;\n}"

def edit(tree: str, undo: bool = False) -> None:
    """Makes the benchmark's one-line edit (or takes it back)."""
    old, new = (EDIT_NEW, EDIT_OLD) if undo else (EDIT_OLD, EDIT_NEW)
    path = os.path.join(tree, EDIT_FILE)
    with open(path) as f:
        text = f.read()
    if text.count(old) != 1:
        raise SystemExit(f"{path}: the benchmark's edit does not apply")
    with open(path + ".new", "w") as f:
        f.write(text.replace(old, new))
    os.replace(path + ".new", path)  # a new inode: the shared tree is untouched


def backend_bundles(bazel: list[str], ws: str) -> dict[str, str]:
    """Object module name -> absolute path of its bundle, for every BE action
    (a BE declares its own bitcode and its bundle, which holds the imported
    bitcode)."""
    root = subprocess.run(bazel + ["info", "execution_root"], cwd=ws, check=True,
                          capture_output=True, text=True).stdout.strip()
    return {b.module: os.path.join(root, b.bundle) for b in backends(bazel, ws)}


def backend_outputs(bazel: list[str], ws: str) -> dict[str, str]:
    """Object module name -> absolute path of its BE output (from the
    ThinLtoBackend actions' command lines)."""
    root = subprocess.run(bazel + ["info", "execution_root"], cwd=ws, check=True,
                          capture_output=True, text=True).stdout.strip()
    return {b.module: os.path.join(root, b.output) for b in backends(bazel, ws)}


def mean_bitcode_inputs(digests: dict[str, dict[str, str]]) -> float:
    """Declared bitcode inputs per BE: its own bitcode and its bundle's
    (every member but the index and the import list)."""
    counts = [1 + len(members) - 2 for members in digests.values()]
    return sum(counts) / max(1, len(counts))


def rerun_reasons(rerun: list[str], before: dict[str, dict[str, str]],
                  bundles: dict[str, str]) -> dict[str, list[str]]:
    """Why each re-run BE re-ran (what in its bundle changed, else its own
    bitcode) -> the objects that re-ran for that reason."""
    reasons: dict[str, list[str]] = collections.defaultdict(list)
    for module in rerun:
        why = bundle.why_changed(module, before[module], bundle.member_digests(bundles[module]))
        reasons["own bitcode" if why == "unchanged" else why].append(module)
    return dict(reasons)


def profile_path(build: str) -> str:
    return os.path.join(os.path.abspath(FLAGS.profiles), build) + ".prof.gz"


def profile(build: str) -> list[str]:
    """Bazel's JSON profile of one build, if asked for (a few per cent of
    Bazel's own CPU; Kbuild's side has no such cost)."""
    if not FLAGS.profiles:
        return []
    os.makedirs(FLAGS.profiles, exist_ok=True)
    return [f"--profile={profile_path(build)}", *phases.PROFILE_FLAGS]


def save_mnemonics(bazel: list[str], ws: str, *builds: str) -> None:
    """Beside each build's profile, which mnemonic writes which output (the
    profile has the outputs only)."""
    if not FLAGS.profiles:
        return
    out = subprocess.run(bazel + ["aquery", "--output=jsonproto", "deps(//:vmlinux_o)"],
                         cwd=ws, check=True, capture_output=True, text=True).stdout
    mnemonics = phases.mnemonics_of(execlog.aquery_outputs(json.loads(out)))
    for build in builds:
        with open(phases.mnemonics_path(profile_path(build)), "w") as f:
            json.dump(mnemonics, f)


def print_phases(*builds: str) -> None:
    """Per ThinLTO phase, where each build's time went (with --profiles)."""
    if not FLAGS.profiles:
        return
    for build in builds:
        if os.path.exists(profile_path(build)):
            print(f"{build} build, from Bazel's profile:")
            path = profile_path(build)
            print(phases.report(phases.load(path), phases.load_mnemonics(path),
                                FLAGS.jobs, incremental=build == "edit"))


def kbuild_make(src: str, kobj: str) -> list[str]:
    return kbuild.make_args(src, kobj, "x86_64", kbuild.Toolchain()) + [
        f"-j{FLAGS.jobs}", "vmlinux_o"]


def bazel_build(bazel: list[str], *extra: str) -> list[str]:
    return bazel + ["build", f"--jobs={FLAGS.jobs}", "//:vmlinux_o", *extra]


def edit_and_null(src: str, make: list[str], bazel: list[str], ws: str,
                  bundles: dict[str, str], before: dict[str, dict[str, str]],
                  ) -> tuple[float, float, float, float, list[str],
                             dict[str, list[str]], dict[str, list[str]]]:
    """The same one-line edit for both sides, then null builds: Kbuild's
    and kthinlto's times, the BE actions Bazel re-ran, why (from the
    bundles' member digests `before` the edit), and how their objects
    changed."""
    edit(src)
    k_edit = timed(make)
    outputs = backend_outputs(bazel, ws)
    with tempfile.TemporaryDirectory(prefix="kthinlto-bench-be-") as saved:
        save_outputs(outputs, saved)
        before_stamps = stamps(outputs)
        b_edit = timed(bazel_build(bazel, *profile("edit")), cwd=ws)
        rerun = rewritten(before_stamps, stamps(outputs))
        changes = output_changes(rerun, saved, outputs)
    k_null = timed(make)
    b_null = timed(bazel_build(bazel, *profile("null")), cwd=ws)
    subprocess.run(bazel + ["shutdown"], cwd=ws, check=False)
    return (k_edit, b_edit, k_null, b_null, rerun,
            rerun_reasons(rerun, before, bundles), changes)


def reuse(work: str) -> None:
    """Edit and null builds again on the trees a --keep run left."""
    src, ws = os.path.join(work, "linux"), os.path.join(work, "ws")
    kobj = os.path.join(work, "kbuild")
    for path in (src, ws, kobj):
        if not os.path.isdir(path):
            raise SystemExit(f"--reuse={work}: {path} is missing; give a work "
                             "directory that `bench.compare --keep` left")
    make = kbuild_make(src, kobj)
    bazel = ["bazel", f"--output_base={os.path.join(work, 'ob')}"]
    edit(src, undo=True)
    copy_checkout(ws)
    print("bench: back to the unedited tree on both sides (untimed)", file=sys.stderr)
    timed(make)
    timed(bazel_build(bazel), cwd=ws)
    save_mnemonics(bazel, ws, "edit", "null")
    bundles = backend_bundles(bazel, ws)
    before = {m: bundle.member_digests(p) for m, p in bundles.items()}
    k_edit, b_edit, k_null, b_null, rerun, why, changes = edit_and_null(
        src, make, bazel, ws, bundles, before)
    print(f"reused {work}: -j{FLAGS.jobs}, {os.cpu_count()} cores")
    print_rows([(f"after a one-line edit of {EDIT_FILE}", b_edit, k_edit),
                ("null build", b_null, k_null)])
    print(f"BE actions re-run after the edit: {len(rerun)}")
    print_reasons(why, changes)
    print_phases("edit")
    print(json.dumps({"reuse": work, "edit": [b_edit, k_edit],
                      "null": [b_null, k_null], "be_rerun": len(rerun),
                      "why": {k: len(v) for k, v in why.items()},
                      "objects": {k: len(v) for k, v in changes.items()}}))


def main(argv):
    del argv
    if FLAGS.reuse:
        reuse(os.path.abspath(FLAGS.reuse))
        return
    work = tempfile.mkdtemp(prefix="kthinlto-bench-")
    print(f"bench: work directory {work}", file=sys.stderr)
    try:
        src = os.path.join(work, "linux")
        pristine = source.pinned_tree(source.read_pins()[0],
                                      source.default_cache_dir())
        subprocess.run(["cp", "-al", pristine, src], check=True)
        spec = kbuild.ConfigSpec(target=FLAGS.config, fragments=tuple(
            os.path.abspath(f) for f in FLAGS.fragment))

        # Kbuild, cold.
        kobj = os.path.join(work, "kbuild")
        os.makedirs(kobj)
        start = time.monotonic()
        kbuild.configure(src, kobj, "x86_64", kbuild.Toolchain(), spec,
                         os.path.join(work, "kbuild.log"), FLAGS.jobs)
        kconfig = time.monotonic() - start
        make = kbuild_make(src, kobj)
        k_cold = kconfig + timed(make)

        # kthinlto, cold: translation, then bazel build in a new output base.
        ws = os.path.join(work, "ws")
        copy_checkout(ws)
        bazel = ["bazel", f"--output_base={os.path.join(work, 'ob')}"]
        translate = timed([sys.executable, "-m", "tools.kthinlto.configure",
                           f"--workspace={ws}", f"--source={src}",
                           f"--config={FLAGS.config}", f"--jobs={FLAGS.jobs}"]
                          + [f"--fragment={f}" for f in FLAGS.fragment], cwd=REPO)
        # No execution log in the timed cold build: Bazel writes the log
        # (every input of every action) as JSON at the end, which Kbuild's
        # side does not pay for.  The BE figures come from aquery afterwards.
        b_cold = timed(bazel_build(bazel, *profile("cold")), cwd=ws)
        save_mnemonics(bazel, ws, "cold", "edit", "null")
        bundles = backend_bundles(bazel, ws)
        before = {m: bundle.member_digests(p) for m, p in bundles.items()}
        mean_inputs, n_backends = mean_bitcode_inputs(before), len(bundles)
        weight = bundle_stats(bundles)

        k_edit, b_edit, k_null, b_null, rerun, why, changes = edit_and_null(
            src, make, bazel, ws, bundles, before)
    finally:
        if not FLAGS.keep:
            shutil.rmtree(work, ignore_errors=True)

    label = FLAGS.config + "".join(f"+{os.path.basename(f)}" for f in FLAGS.fragment)
    rows = [("cold build to vmlinux.o", b_cold, k_cold),
            (f"after a one-line edit of {EDIT_FILE}", b_edit, k_edit),
            ("null build", b_null, k_null)]
    print(f"config: {label} (x86_64, ThinLTO), -j{FLAGS.jobs}, {os.cpu_count()} cores")
    print(f"translation: {translate:.1f} s (once per tree and config; not in cold)")
    print_rows(rows)
    print(f"BE actions: {n_backends}; mean declared bitcode inputs per BE: "
          f"{mean_inputs:.2f} (= 1 + {mean_inputs - 1:.2f} imports; "
          f"declaring all would be {n_backends})")
    print(format_stats(weight))
    print(f"BE actions re-run after the edit: {len(rerun)} of {n_backends}")
    print_reasons(why, changes)
    print(json.dumps({"config": label, "translate": translate,
                      "cold": [b_cold, k_cold], "edit": [b_edit, k_edit],
                      "null": [b_null, k_null], "be": n_backends,
                      "mean_bitcode_inputs": mean_inputs, "bundle_bytes": weight.bytes,
                      "be_rerun": len(rerun), "why": {k: len(v) for k, v in why.items()},
                      "objects": {k: len(v) for k, v in changes.items()}}))
    print_phases("cold", "edit")


if __name__ == "__main__":
    app.run(main)
