"""tools/kthinlto/source.py: the pinned Debian kernel sources.

These use the real apt-get against Debian's archive, as ./kthin setup does;
the tests that download a whole source package are end-to-end
(tests/e2e/test_source_download.py).
"""

import json
import os
import subprocess
import sys

import pytest

from tools.kthinlto import source
from tools.kthinlto.records import TranslationError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_pin_is_an_exact_version_with_a_sha256():
    default, pins = source.read_pins()
    assert default in pins
    assert {"linux-source-6.1", "linux-source-6.12"} <= set(pins)
    for pin in pins.values():
        assert pin.version and not any(c in pin.version for c in "*<>= ")
        assert len(pin.sha256) == 64 and int(pin.sha256, 16) >= 0


def test_a_version_gone_from_the_archive_is_one_line_naming_it_and_the_pin_file(tmp_path):
    pin = source.Pin("linux-source-6.1", "0.0.1-kthinlto-gone", "0" * 64)
    with pytest.raises(TranslationError) as e:
        source.fetch(pin, str(tmp_path))
    msg = str(e.value)
    assert "\n" not in msg
    assert "linux-source-6.1=0.0.1-kthinlto-gone" in msg
    # apt's own diagnosis, not any failure of apt (a network down, say).
    assert "Version '0.0.1-kthinlto-gone' for 'linux-source-6.1' was not found" in msg, msg
    assert source.PINS_FILE in msg and "--source=" in msg
    # Nothing half-written is left in the cache.
    assert not os.listdir(tmp_path / "sources")


def test_a_wrong_digest_in_the_pin_is_refused_and_nothing_is_kept(tmp_path, monkeypatch):
    # What Debian serves, written by a stand-in for apt (the real download:
    # tests/e2e/test_source_download.py).
    def download(package, version, out):
        with open(out, "wb") as f:
            f.write(b"not the pinned tarball")
        return source.sha256_file(out)
    monkeypatch.setattr(source, "download_tarball", download)
    default, pins = source.read_pins()
    wrong = source.Pin(default, pins[default].version, "f" * 64)
    with pytest.raises(TranslationError, match="fix the pin there"):
        source.fetch(wrong, str(tmp_path))
    assert os.listdir(tmp_path / "sources") == []


def test_cli_names_an_unpinned_package(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tools.kthinlto.source",
                           "--package=linux-source-9.9", f"--cache_dir={tmp_path}"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert "linux-source-9.9 is not pinned" in line and "linux-source-6.1" in line


def test_pins_file_is_valid_json_with_the_documented_fields():
    with open(source.PINS_FILE) as f:
        data = json.load(f)
    assert set(data) == {"about", "default", "packages"}
    for p in data["packages"].values():
        assert set(p) == {"version", "sha256"}


def test_an_extracted_pin_is_used_without_reading_its_tarball(tmp_path, monkeypatch):
    """Once extracted (src/<pinned sha256>, renamed into place whole), a
    pinned tree costs no hashing: here its tarball does not even exist."""
    pin = source.Pin("linux-source-6.1", "6.1.0-test", "ab" * 32)
    monkeypatch.setattr(source, "read_pins", lambda: ("linux-source-6.1", {pin.package: pin}))
    tree = tmp_path / "src" / pin.sha256[:16] / "linux-source-6.1"
    tree.mkdir(parents=True)
    assert source.pinned_tree(pin.package, str(tmp_path)) == str(tree)
    assert not (tmp_path / "sources").exists()
