"""rules/private/import_bundles.py: the thin link's bundle layout."""

import os
import subprocess
import sys


SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "rules/private/import_bundles.py")


def write(path, text=""):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def run(tmp_path, manifest_lines, ld=("true",)):
    write(str(tmp_path / "manifest"), "".join(l + "\n" for l in manifest_lines))
    return subprocess.run([sys.executable, SCRIPT, "manifest", *ld],
                          cwd=tmp_path, capture_output=True, text=True)


def test_bundle_holds_own_bitcode_and_exactly_the_imports(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write("fe/a.o", "A")
    write("fe/b.o", "B")
    write("fe/c.o", "C")
    write("idx/a.o.imports", "fe/b.o\n")
    write("idx/b.o.imports", "")
    write("idx/c.o.imports", "fe/a.o\nfe/b.o\n")
    proc = run(tmp_path, ["fe/a.o\tidx/a.o.imports\tbundles/a.o",
                          "fe/b.o\tidx/b.o.imports\tbundles/b.o",
                          "fe/c.o\tidx/c.o.imports\tbundles/c.o"])
    assert proc.returncode == 0, proc.stderr

    def files(d):
        return sorted(os.path.relpath(os.path.join(r, f), d)
                      for r, _, fs in os.walk(d) for f in fs)
    assert files("bundles/a.o") == ["fe/a.o", "fe/b.o"]
    assert files("bundles/b.o") == ["fe/b.o"]
    assert files("bundles/c.o") == ["fe/a.o", "fe/b.o", "fe/c.o"]
    with open("bundles/c.o/fe/a.o") as f:
        assert f.read() == "A"


def test_import_outside_the_build_is_an_error_naming_both(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write("fe/a.o", "A")
    write("elsewhere/x.o", "X")
    write("idx/a.o.imports", "elsewhere/x.o\n")
    proc = run(tmp_path, ["fe/a.o\tidx/a.o.imports\tbundles/a.o"])
    assert proc.returncode == 1
    assert "elsewhere/x.o" in proc.stderr and "fe/a.o" in proc.stderr
    assert "not a bitcode object of this build" in proc.stderr


def test_linker_failure_is_passed_on_without_bundles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write("fe/a.o", "A")
    proc = run(tmp_path, ["fe/a.o\tidx/a.o.imports\tbundles/a.o"], ld=("false",))
    assert proc.returncode == 1
    assert not os.path.exists("bundles")
