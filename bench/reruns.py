"""Which BE actions a build ran, from their outputs on disk.

The bench times its builds without an execution log (Bazel 4.2.3 writes one
with every input of every action, a cost Kbuild's side does not pay); it
tells which BE actions ran from which BE outputs are new files.
"""

import os


def backend_output(bundle_path: str) -> str:
    """The BE output of the object whose bundle this is."""
    head, module = bundle_path.split("/vmlinux_o_thin_link/", 1)
    return f"{head}/vmlinux_o_be/{module[:-len('.thinlto.tar')]}"


def stamps(bundles: dict[str, str]) -> dict[str, tuple[int, int] | None]:
    """Module -> (inode, mtime) of its BE output (None if missing)."""
    result = {}
    for module, path in bundles.items():
        try:
            st = os.stat(backend_output(path))
            result[module] = (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            result[module] = None
    return result


def rewritten(before: dict[str, tuple[int, int] | None],
              after: dict[str, tuple[int, int] | None]) -> list[str]:
    """The modules whose BE output is a new file: Bazel deletes an action's
    outputs before it runs it and leaves a cache hit's untouched, so these
    are the BE actions that ran (the bench uses no remote or disk cache)."""
    return sorted(m for m in after if after[m] is None or after[m] != before.get(m))
