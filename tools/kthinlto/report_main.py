"""`./kthin report`: a build explained (report.py), from what it left.

  ./kthin report                       # the last build in this workspace
  ./kthin report --profile=/tmp/cold.prof.gz --execution_log=/tmp/cold.json \\
      --svg=/tmp/cold.svg --json=/tmp/cold.json --overhead=0.3

Without --profile it reads the last command's profile in the output base
(.bazelrc makes every build's profile name each action's output, and
keep_profile.sh keeps the last builds' profiles): after a null build (or a
query, or this report's own aquery) it says so in one line and explains
the last build that ran actions.
Without --aquery it asks `bazel aquery` for the graph of --targets now.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from tools.kthinlto import buildgraph, execlog, picture, report, schedule, traffic

FLAGS = flags.FLAGS
flags.DEFINE_string("profile", None, "The build's JSON profile (bazel build --profile=FILE "
                    "--experimental_profile_include_primary_output); default: the last "
                    "command's profile in --workspace's output base.")
flags.DEFINE_string("aquery", None, "The build's action graph, saved from `bazel aquery "
                    "--output=jsonproto` (JSON, gzipped or not); default: aquery --targets now.")
flags.DEFINE_list("targets", ["//:vmlinux_o", "//:modules"], "What the build built (for aquery).")
flags.DEFINE_string("workspace", os.getcwd(), "The Bazel workspace the build ran in.")
flags.DEFINE_list("bazel", ["bazel"], "The Bazel command (with startup options, comma-separated).")
flags.DEFINE_string("execution_log", None, "The build's execution log "
                    "(--execution_log_json_file): how each action ran, and bytes.")
flags.DEFINE_string("svg", None, "Write the picture here (timeline and scaling).")
flags.DEFINE_string("json", None, "Write the figures here, as JSON.")
flags.DEFINE_integer("jobs", None, "Slots the measured build ran local actions on "
                     "(Bazel's --jobs); also the local slots of the simulations.  Default: "
                     "for a local build, the most actions it ran at once; for a remote "
                     "build, this machine's cores.")
flags.DEFINE_integer("remote_slots", 0, "The measured build ran remotable actions on this "
                     "many remote slots (workers x their jobs); 0: a local build.")
flags.DEFINE_float("overhead", 0.3, "Seconds each remote action pays on top of its measured "
                   "time in the simulations (round trip, input transfer).")
flags.DEFINE_list("workers", ["1", "2", "8", "32", "100", "1000"], "Remote workers to simulate.")



def _bazel(*args: str) -> str:
    return subprocess.run(FLAGS.bazel + list(args), cwd=FLAGS.workspace, check=True,
                          capture_output=True, text=True).stdout


def _fail(what: str, why: str, fix: str) -> SystemExit:
    return SystemExit(f"kthin report: {what}: {why}; {fix}")


def _progress(msg: str) -> None:
    print(f"kthin report: {msg}", file=sys.stderr, flush=True)


# Where the profiles of the last builds are kept (tools/kthinlto/
# keep_profile.sh, Bazel's workspace status command in .bazelrc), and the
# copy this report keeps when Bazel runs without it (another workspace).
PROFILES = "kthinlto-profiles"
KEPT = "kthinlto-report.profile.gz"


def profiles_newest_first(ob: str) -> list[str]:
    """The profiles in the output base, the last command's first: those
    keep_profile.sh keeps, the one Bazel wrote last (a plain file when no
    status command links it) and the report's own kept copy."""
    found = []
    kept_dir = os.path.join(ob, PROFILES)
    if os.path.isdir(kept_dir):
        found += [os.path.join(kept_dir, n) for n in os.listdir(kept_dir)]
    last = os.path.join(ob, "command.profile.gz")
    if os.path.isfile(last) and not os.path.islink(last):
        found.append(last)
    if os.path.isfile(os.path.join(ob, KEPT)):
        found.append(os.path.join(ob, KEPT))
    return sorted(found, key=lambda p: os.stat(p).st_mtime_ns, reverse=True)


def _load_copy(path: str, tmp: str) -> dict:
    # Copied first: the aquery below may write a profile of its own there.
    copy = os.path.join(tmp, os.path.basename(path))
    shutil.copyfile(path, copy)
    try:
        return buildgraph.load_profile(copy)
    except (ValueError, KeyError, EOFError, OSError) as e:
        raise _fail(path, f"not a Bazel JSON profile ({e})",
                    "give a file written by bazel build --profile") from None


def _last_build(ob: str, tmp: str) -> tuple[str, dict]:
    """The profile to explain when none is given: the last command's, if it
    ran actions, else the newest one that did (saying so)."""
    found = profiles_newest_first(ob)
    if not found:
        raise _fail(ob, "no profile of the last build", "build first, or give --profile")
    last = found[0]
    profile = _load_copy(last, tmp)
    if buildgraph.ran_actions(profile):
        if os.path.dirname(last) != os.path.join(ob, PROFILES) and last != os.path.join(ob, KEPT):
            shutil.copyfile(last, os.path.join(ob, KEPT + ".tmp"))
            os.replace(os.path.join(ob, KEPT + ".tmp"), os.path.join(ob, KEPT))
        return last, profile
    for earlier in found[1:]:
        try:
            profile = _load_copy(earlier, tmp)
        except SystemExit:
            continue        # one cut short (a build interrupted): an older one
        if buildgraph.ran_actions(profile):
            print("kthin report: the last command ran no action (a null build, or not a "
                  f"build); explaining the last build that did ({earlier})")
            return earlier, profile
    raise _fail(ob, "the last command ran no action (a null build, or not a build) "
                "and no earlier build is kept", "run a build that runs actions, or give "
                "--profile")


def main(argv: list[str]) -> None:
    del argv
    with tempfile.TemporaryDirectory(prefix="kthinlto-report-") as tmp:
        profile_path = FLAGS.profile
        if profile_path:
            try:
                profile = buildgraph.load_profile(profile_path)
            except (OSError, ValueError, KeyError) as e:
                raise _fail(profile_path, f"not a Bazel JSON profile ({e})",
                            "give a file written by bazel build --profile") from None
        else:
            profile_path, profile = _last_build(_bazel("info", "output_base").strip(), tmp)
        if FLAGS.aquery:
            try:
                graph = buildgraph.load_profile(FLAGS.aquery)
            except (OSError, ValueError) as e:
                raise _fail(FLAGS.aquery, f"not aquery's JSON ({e})",
                            "save `bazel aquery --output=jsonproto` there") from None
        else:
            expr = " + ".join(f"deps({t})" for t in FLAGS.targets)
            _progress(f"bazel aquery '{expr}'")
            try:
                graph = json.loads(_bazel("aquery", "--output=jsonproto", expr))
            except subprocess.CalledProcessError as e:
                raise _fail("--targets", f"bazel aquery failed ({e.stderr.strip()[-200:]})",
                            "give the targets the build built") from None
    build = buildgraph.build_of(profile, buildgraph.actions_of(graph))
    if build.tasks and not any(build.actions.values()):
        raise _fail(FLAGS.aquery or "--targets", "no action the profile has is in this graph",
                    "give the graph of the build the profile is of")
    entries = []
    if FLAGS.execution_log:
        _progress(f"reading {FLAGS.execution_log}")
        try:
            entries = execlog.read(FLAGS.execution_log)
        except (OSError, ValueError) as e:
            raise _fail(FLAGS.execution_log, f"not an execution log ({e})",
                        "give a file written by --execution_log_json_file") from None
    minimum = None
    if entries:
        execroot = _bazel("info", "execution_root").strip()
        _progress(f"taking the bundles in {execroot} apart (the minimum upload)")
        try:
            minimum = traffic.upload(entries, members=report.bundle_members(execroot))
        except OSError as e:
            print(f"kthin report: no minimum: the bundles are gone from {execroot} ({e})",
                  file=sys.stderr)
    other = profile.get("otherData", {})
    print(f"build: {profile_path}" + (f" (started {other['date']}, output base "
                                      f"{other.get('output_base', '?')})"
                                      if "date" in other else ""))
    jobs = FLAGS.jobs or (os.cpu_count() or 2 if FLAGS.remote_slots
                          else max(1, schedule.peak_concurrency(build.tasks)))
    f = report.figures(profile, build, entries, minimum, jobs, FLAGS.remote_slots,
                [int(n) for n in FLAGS.workers], FLAGS.overhead)
    print(report.text(f))
    if FLAGS.json:
        _write(FLAGS.json, json.dumps(f, indent=1))
        print(f"figures: {FLAGS.json}")
    if FLAGS.svg:
        title = (f"{os.path.basename(profile_path)}: {len(build.tasks)} actions, "
                 f"{build.span:.0f} s, {other.get('date') or time.strftime('%c')}")
        path = [t for t in build.tasks
                if t.name in {c["output"] for c in f["critical_path"]}]
        _write(FLAGS.svg, picture.svg(build.tasks, path, [tuple(w) for w in f["simulated"]],
                                      title))
        print(f"picture: {FLAGS.svg}")


def _write(path: str, content: str) -> None:
    """Whole or not at all."""
    with open(path + ".tmp", "w") as out:
        out.write(content)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    app.run(main)
