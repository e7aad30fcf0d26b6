"""tools/kthinlto/actions/import_bundles.py: the thin link's bundles.

A fake linker (a small sh script) stands in for ld.lld: it writes the index
and import list of each module into the scratch directory, as ld.lld's
--thinlto-index-only --thinlto-emit-imports-files does.
"""

import io
import os
import subprocess
import sys
import tarfile
from tools.kthinlto.kbuild import Toolchain

TC = Toolchain()

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "tools/kthinlto/actions/import_bundles.py")


def write(path, text=""):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def fake_ld(imports: dict[str, str], status: int = 0, error: str = "") -> str:
    """A linker that writes MODULE.thinlto.bc and MODULE.imports to ../scratch."""
    body = ["#!/bin/sh", "pwd > ../ld.cwd"]
    for module, text in imports.items():
        body.append(f"mkdir -p ../scratch/{os.path.dirname(module) or '.'}")
        body.append(f"printf 'index of {module}' > ../scratch/{module}.thinlto.bc")
        body.append(f"printf '{text}' > ../scratch/{module}.imports")
    if error:
        body.append(f"echo '{error}' >&2")
    body.append(f"exit {status}")
    write("tools/ld", "\n".join(body) + "\n")
    os.chmod("tools/ld", 0o755)
    return "tools/ld"


def run(manifest_lines, ld):
    write("manifest", "".join(l + "\n" for l in manifest_lines))
    return subprocess.run([sys.executable, SCRIPT, "--manifest=manifest", "--fe_dir=fe",
                           "--scratch=scratch", "--nm=" + TC.tool("llvm-nm"), "--ld=" + ld],
                          capture_output=True, text=True)


def members(path):
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}


def test_bundle_holds_index_imports_and_exactly_the_imported_bitcode(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write("fe/a.o", "A")
    write("fe/b.o", "B")
    write("fe/sub/c.o", "C")
    ld = fake_ld({"a.o": "b.o\\n", "b.o": "", "sub/c.o": "a.o\\nb.o\\n"})
    proc = run(["a.o\tout/a.o.tar", "b.o\tout/b.o.tar", "sub/c.o\tout/sub/c.o.tar"], ld)
    assert proc.returncode == 0, proc.stderr
    assert members("out/a.o.tar") == {
        "a.o.thinlto.bc": "index of a.o", "a.o.imports": "b.o\n", "b.o": "B"}
    assert members("out/b.o.tar") == {"b.o.thinlto.bc": "index of b.o", "b.o.imports": ""}
    assert members("out/sub/c.o.tar") == {
        "sub/c.o.thinlto.bc": "index of sub/c.o", "sub/c.o.imports": "a.o\nb.o\n",
        "a.o": "A", "b.o": "B"}
    # The linker ran in the FE directory; its scratch output is gone.
    assert open("ld.cwd").read().strip() == str(tmp_path / "fe")
    assert not os.path.exists("scratch")


def test_bundles_are_byte_for_byte_reproducible(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write("fe/a.o", "A")
    write("fe/b.o", "B")
    ld = fake_ld({"a.o": "b.o\\n", "b.o": ""})
    run(["a.o\tout/a.o.tar", "b.o\tout/b.o.tar"], ld)
    first = open("out/a.o.tar", "rb").read()
    os.utime("fe/b.o", (1e9, 1e9))
    os.chmod("fe/b.o", 0o600)
    run(["a.o\tout/a.o.tar", "b.o\tout/b.o.tar"], ld)
    assert open("out/a.o.tar", "rb").read() == first


def test_bundle_bytes_are_what_tarfile_writes(tmp_path, monkeypatch):
    # The launcher writes tars itself (kernel-side copies); a bundle must stay
    # a tar that tarfile and GNU tar read, with a name over 100 characters.
    monkeypatch.chdir(tmp_path)
    deep = "d" * 60 + "/" + "e" * 60 + "/long.o"
    write("fe/a.o", "A" * 700)
    write("fe/" + deep, "L" * 513)
    ld = fake_ld({"a.o": deep + "\\n", deep: ""})
    proc = run(["a.o\tout/a.o.tar", deep + "\tout/long.o.tar"], ld)
    assert proc.returncode == 0, proc.stderr
    expected = io.BytesIO()
    with tarfile.open(fileobj=expected, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in [("a.o.thinlto.bc", b"index of a.o"), ("a.o.imports", deep.encode() + b"\n"),
                           (deep, b"L" * 513)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    assert open("out/a.o.tar", "rb").read() == expected.getvalue()
    listing = subprocess.run(["tar", "-tf", "out/a.o.tar"], capture_output=True, text=True, check=True)
    assert listing.stdout.split() == ["a.o.thinlto.bc", "a.o.imports", deep]


def test_import_outside_the_build_is_an_error_naming_both(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write("fe/a.o", "A")
    write("elsewhere/x.o", "X")
    ld = fake_ld({"a.o": "../elsewhere/x.o\\n"})
    proc = run(["a.o\tout/a.o.tar"], ld)
    assert proc.returncode == 1
    assert "the index of a.o imports ../elsewhere/x.o" in proc.stderr
    assert "not a bitcode object of this build" in proc.stderr


def test_linker_failure_is_passed_on_without_bundles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write("fe/a.o", "A")
    proc = run(["a.o\tout/a.o.tar"], fake_ld({}, status=3, error="ld: error: a.o: bad"))
    assert proc.returncode == 3
    assert "ld: error: a.o: bad" in proc.stderr
    assert not os.path.exists("out") and not os.path.exists("scratch")


def test_params_file_is_read_from_the_execroot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write("fe/a.o", "A")
    fake_ld({"a.o": ""})
    with open("tools/ld", "a") as f:
        f.write("")
    write("tools/ld2", "#!/bin/sh\nprintf '%s\\n' \"$@\" > ../ld.args\nexec ../tools/ld\n")
    os.chmod("tools/ld2", 0o755)
    write("ld.params", "-r\n")
    write("manifest", "a.o\tout/a.o.tar\n")
    proc = subprocess.run([sys.executable, SCRIPT, "--manifest=manifest", "--fe_dir=fe",
                           "--scratch=scratch", "--nm=" + TC.tool("llvm-nm"), "--ld=tools/ld2",
                           "--", "@ld.params"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert open("ld.args").read().split() == ["@" + str(tmp_path / "ld.params")]
