"""tools/kthinlto/source.py against Debian's archive, downloading the pinned
source package (150 MB) as a fresh machine does."""

import os

from tools.kthinlto import source


def test_the_default_pin_is_fetched_as_exactly_that_version(tmp_path):
    # Whatever linux-source-6.1 the host has installed in /usr/src (a newer
    # one on a machine that installed the newest), the fetched tarball is
    # the pinned version's.
    default, pins = source.read_pins()
    path = source.fetch(pins[default], str(tmp_path))
    assert source.sha256_file(path) == pins[default].sha256
    assert pins[default].version in os.path.basename(path)
    # Fetched once: a second call reuses it.
    mtime = os.stat(path).st_mtime_ns
    assert source.fetch(pins[default], str(tmp_path)) == path
    assert os.stat(path).st_mtime_ns == mtime
