"""tools/kthinlto/actions/kbuild_cmd.py: Kbuild's saved commands
(modpost's, those of modules.builtin) run in a scratch object tree of the
declared inputs."""

import os
import subprocess
import sys

LAUNCHER = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "kthinlto", "actions",
                        "kbuild_cmd.py")

# Makefile.vmlinux_o's two commands (saved), with a printf standing in for
# llvm-objcopy's dump of vmlinux.o's .modinfo.
BUILTIN = ("printf 'ext4.file=fs/ext4/ext4\\0ext4.license=GPL\\0a\\0' > modules.builtin.modinfo"
           " && test -L vmlinux.o"
           " && tr '\\0' '\\n' < modules.builtin.modinfo"
           " | sed -n 's/\\.file=/ /p' | while read m f; do echo kernel/$f.ko; done"
           " > modules.builtin")


def run(tmp_path, cmd, *args):
    return subprocess.run([sys.executable, LAUNCHER, "work", cmd, *args], cwd=tmp_path,
                          capture_output=True, text=True)


def test_runs_the_command_in_a_tree_of_placed_inputs_and_takes_its_results(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/vmlinux.o").write_bytes(b"\x7fELF")
    (tmp_path / "out").mkdir()
    proc = run(tmp_path, BUILTIN, "place:vmlinux.o=in/vmlinux.o",
               "take:modules.builtin=out/modules.builtin",
               "take:modules.builtin.modinfo=out/modules.builtin.modinfo")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out/modules.builtin").read_text() == "kernel/fs/ext4/ext4.ko\n"
    assert (tmp_path / "out/modules.builtin.modinfo").read_bytes() == (
        b"ext4.file=fs/ext4/ext4\0ext4.license=GPL\0a\0")
    # The results are files, and the scratch tree (its links) is gone.
    assert not os.path.islink(tmp_path / "out/modules.builtin")
    assert sorted(os.listdir(tmp_path)) == ["in", "out"]


def test_places_inputs_at_their_objtree_paths(tmp_path):
    (tmp_path / "a.o").write_bytes(b"A")
    (tmp_path / "order").write_text("fs/fuse/fuse.o\n")
    proc = run(tmp_path, "cat modules.order fs/fuse/fuse.o > got",
               "place:fs/fuse/fuse.o=a.o", "place:modules.order=order", "take:got=got")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "got").read_text() == "fs/fuse/fuse.o\nA"


def test_a_failing_command_is_named_and_writes_nothing(tmp_path):
    proc = run(tmp_path, "echo modpost: fuse.o: no license >&2; echo x > got; false",
               "take:got=got")
    assert proc.returncode == 1
    assert "modpost: fuse.o: no license" in proc.stderr
    assert "kthinlto: Kbuild's command failed: echo modpost" in proc.stderr
    assert not (tmp_path / "got").exists()


def test_reads_its_places_and_takes_from_a_param_file(tmp_path):
    # What Bazel writes when the command line would be too long (every
    # module's sources, for srcversion): one argument a line.
    (tmp_path / "a.o").write_bytes(b"A")
    (tmp_path / "params").write_text("place:x/y/a.o=a.o\nplace:x/b.o=a.o\ntake:got=got\n")
    proc = run(tmp_path, "cat x/y/a.o x/b.o > got", "@params")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "got").read_text() == "AA"
