"""An action's environment for a tool run in another directory.

The rules name the toolchain's library directories in LD_LIBRARY_PATH
relative to the execroot (no host path in an action); a launcher that runs a
tool elsewhere (ld.lld inside the FE directory) or the bench running an
action's command outside Bazel makes them absolute first.  (backend.sh does
the same in sh.)  Stdlib only: action tools import it.
"""

import os


def absolute_library_path(env: dict[str, str], root: str) -> dict[str, str]:
    """env with each relative LD_LIBRARY_PATH entry made absolute from root."""
    out = dict(env)
    if out.get("LD_LIBRARY_PATH"):
        out["LD_LIBRARY_PATH"] = ":".join(
            d if d.startswith("/") else os.path.join(root, d)
            for d in out["LD_LIBRARY_PATH"].split(":"))
    return out
