"""Runs a command Kbuild saved, the way Kbuild runs it.

  kbuild_cmd.py WORK CMD [place:REL=FILE ...] [take:REL=FILE ...]
  kbuild_cmd.py WORK CMD @PARAMS        (the same, one argument a line)

Kbuild runs its commands (modpost's, saved in .Module.symvers.cmd; those of
modules.builtin) with /bin/sh in the object tree.  That tree is WORK, a new
scratch directory holding exactly the declared inputs, each at its
objtree-relative path (place:REL=FILE, a symbolic link).  Each take:REL=FILE
copies a result out.  WORK is removed on success; on failure the command's
own error (modpost names the module) is on stderr, then one line naming the
command, and no output is written.  One process however many inputs
(modpost's are every module's sources, for srcversion); standard library
only: the toolchain's interpreter runs it as an action.
"""

import argparse
import os
import shutil
import subprocess
import sys


def pairs(args: list[str], kind: str) -> list[tuple[str, str]]:
    """The (REL, FILE) of every KIND:REL=FILE argument, in order."""
    result = []
    for arg in args:
        head, sep, rest = arg.partition(":")
        if sep and head == kind:
            rel, _, path = rest.partition("=")
            result.append((rel, path))
    return result


def place(work: str, places: list[tuple[str, str]]) -> None:
    """The scratch object tree: work (new), each file linked at its path."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    made = {work}
    for rel, path in places:
        dst = os.path.join(work, rel)
        parent = os.path.dirname(dst)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        os.symlink(os.path.abspath(path), dst)


def run(work: str, cmd: str, args: list[str]) -> int:
    place(work, pairs(args, "place"))
    if subprocess.run(["/bin/sh", "-c", cmd], cwd=work).returncode != 0:
        print(f"kthinlto: Kbuild's command failed: {cmd}", file=sys.stderr)
        return 1
    for rel, path in pairs(args, "take"):
        shutil.copyfile(os.path.join(work, rel), path)
    shutil.rmtree(work)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, fromfile_prefix_chars="@",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work")
    parser.add_argument("cmd")
    parser.add_argument("files", nargs="*", help="place:REL=FILE, take:REL=FILE")
    args = parser.parse_args(argv)
    return run(args.work, args.cmd, args.files)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
