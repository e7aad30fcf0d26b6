"""Where saved builds' time went, per ThinLTO phase, from Bazel's profiles.

`bench.compare --profiles=DIR` saves the profiles of its cold, edit and null
builds, each with FILE.mnemonics.json (which mnemonic writes which output,
from `bazel aquery`: Bazel 4.2.3's profile names no mnemonic):

  python3 -m bench.profiles /tmp/prof/cold.prof.gz
  python3 -m bench.profiles --incremental /tmp/prof/edit.prof.gz
"""

import os

from absl import app
from absl import flags

from bench import phases


FLAGS = flags.FLAGS
flags.DEFINE_integer("jobs", os.cpu_count() or 2, "Cores the builds used (for the floor).")
flags.DEFINE_bool("incremental", False, "The profiles are of incremental builds: print "
                  "the floor (the serial phases back to back on --jobs cores).")


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise app.UsageError("give one or more profiles (bazel build --profile=FILE)")
    for path in argv[1:]:
        try:
            events = phases.load(path)
        except (OSError, ValueError) as e:
            raise SystemExit(f"{path}: not a readable Bazel JSON profile ({e}); "
                             "give a file written by bazel build --profile") from e
        try:
            mnemonics = phases.load_mnemonics(path)
        except (OSError, ValueError) as e:
            raise SystemExit(f"{phases.mnemonics_path(path)}: no map of outputs to "
                             f"mnemonics ({e}); profile with bench.compare --profiles") from e
        print(f"{path}:")
        print(phases.report(events, mnemonics, FLAGS.jobs, FLAGS.incremental))


if __name__ == "__main__":
    app.run(main)
