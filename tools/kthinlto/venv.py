"""The translator's Python: the virtual environment of requirements.txt.

Made once (by `./kthin setup`, or by the first fetch that needs it) in
KTHINLTO_CACHE/venv/<key>, where the key is of requirements.txt and
tools/kthinlto/reapi_protos.py (what it installs and generates); `.complete`
is written last, so a half-made environment is never used.  KTHINLTO_PYTHON,
if set, is used instead (a Python that has requirements.txt).  Standard
library only: it runs under the host's python3 -S, before any environment
exists.

  python3 -S tools/kthinlto/venv.py python        # print its python3 (./kthin)
  python3 -S tools/kthinlto/venv.py exec ARGS...  # become its python3 ARGS

`exec` is what Bazel's kernel repository rule runs: one process (exec
replaces this one), in the ruleset's root, no shell.
"""

import hashlib
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY_FILES = ("requirements.txt", "tools/kthinlto/reapi_protos.py")


def key(root: str = ROOT) -> str:
    h = hashlib.sha256()
    for name in KEY_FILES:
        with open(os.path.join(root, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:12]


def cache_dir(environ) -> str:
    return environ.get("KTHINLTO_CACHE") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".cache", "kthinlto")


def log(msg: str) -> None:
    print(f"kthin: {msg}", file=sys.stderr, flush=True)


def ensure(environ, root: str = ROOT) -> str:
    """The environment's python3, made first if missing."""
    if environ.get("KTHINLTO_PYTHON"):
        return environ["KTHINLTO_PYTHON"]
    d = os.path.join(cache_dir(environ), "venv", key(root))
    python = os.path.join(d, "bin", "python3")
    if os.path.isfile(os.path.join(d, ".complete")):
        return python
    log(f"creating the Python virtual environment {d} (requirements.txt)")
    shutil.rmtree(d, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", d],
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-r", os.path.join(root, "requirements.txt")],
        [python, "-m", "tools.kthinlto.reapi_protos", f"--out={os.path.join(d, 'reapi')}"],
    ]
    for step in steps:
        if subprocess.run(step, cwd=root).returncode != 0:
            shutil.rmtree(d, ignore_errors=True)
            raise SystemExit(f"kthin: error: `{' '.join(step[:4])} ...` failed making {d}; "
                             "check the network to PyPI and the Go module proxy, then run "
                             "./kthin setup")
    with open(os.path.join(d, ".complete"), "w"):
        pass
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("python", "exec"):
        print(__doc__, file=sys.stderr)
        return 2
    python = ensure(os.environ)
    if argv[0] == "python":
        print(python)
        return 0
    os.chdir(ROOT)
    os.execv(python, [python, *argv[1:]])
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
