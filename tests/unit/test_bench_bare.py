"""bench/bare.py: the BE commands run bare, outside Bazel."""

import os
import subprocess

import pytest

from bench import bare
from tools.kthinlto.kbuild import Toolchain

TC = Toolchain()

BACK = "../../../../../../"
ARGS = [
    "rules/private/backend.sh",
    "bazel-out/k8-fastbuild/bin/external/kernel/vmlinux_o_thin_link/kernel/sys.o.thinlto.tar",
    "bazel-out/k8-fastbuild/bin/external/kernel/vmlinux_o_fe/kernel/sys.o",
    "kernel/sys.o",
    "bazel-out/k8-fastbuild/bin/external/kernel/vmlinux_o_be/kernel/sys.o.bundle",
    BACK + "external/kthinlto_llvm/bin/clang",
    "-O2", "-fno-lto", "-x", "ir",
    "-fthinlto-index=kernel/sys.o.thinlto.bc", "-c",
    "-o" + BACK + "bazel-out/k8-fastbuild/bin/external/kernel/vmlinux_o_be/kernel/sys.o",
    "kernel/sys.o",
]


def test_backend_reads_the_launcher_command_line():
    b = bare.backend(ARGS, {"LD_LIBRARY_PATH": "external/kthinlto_llvm/lib"})
    assert b.module == "kernel/sys.o"
    assert b.bundle.endswith("sys.o.thinlto.tar") and b.own.endswith("vmlinux_o_fe/kernel/sys.o")
    assert b.argv[0] == BACK + "external/kthinlto_llvm/bin/clang"
    assert b.output == "bazel-out/k8-fastbuild/bin/external/kernel/vmlinux_o_be/kernel/sys.o"
    with pytest.raises(ValueError, match="not a ThinLtoBackend command line"):
        bare.backend(["clang", "-c", "x.c"], {})


def test_deps_of_is_the_union_of_the_targets_deps():
    assert bare.deps_of(("//:vmlinux_o",)) == "deps(//:vmlinux_o)"
    assert bare.deps_of(("//:vmlinux_o", "//:modules")) == (
        "deps(//:vmlinux_o) + deps(//:modules)")


def test_bare_argv_makes_execroot_paths_absolute_and_moves_the_output():
    b = bare.backend(ARGS, {})
    argv = bare.bare_argv(b, "/x/execroot", "/shm/0/out.o")
    assert argv[0] == "/x/execroot/external/kthinlto_llvm/bin/clang"
    assert "-o/shm/0/out.o" in argv
    # Paths inside the work directory (the module, its index) stay relative.
    assert argv[-1] == "kernel/sys.o"
    assert "-fthinlto-index=kernel/sys.o.thinlto.bc" in argv
    assert argv[1:5] == ["-O2", "-fno-lto", "-x", "ir"]


def test_bare_argv_refuses_clang_named_from_elsewhere():
    args = ARGS[:5] + ["/usr/bin/clang-19"] + ARGS[6:]
    with pytest.raises(ValueError, match="kernel/sys.o: clang is not named from its work"):
        bare.bare_argv(bare.backend(args, {}), "/x", "/o")


def test_bare_env_makes_the_library_path_absolute():
    b = bare.backend(ARGS, {"LD_LIBRARY_PATH": "external/a/lib:/opt/lib",
                                    "PATH": "/bin"})
    assert bare.bare_env(b, "/x") == {"LD_LIBRARY_PATH": "/x/external/a/lib:/opt/lib",
                                              "PATH": "/bin"}


def test_run_bare_runs_every_command_and_counts_their_cpu(tmp_path):
    jobs = [(["sh", "-c", f"i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; touch {n}"],
             {"PATH": "/bin:/usr/bin"}, str(tmp_path)) for n in ("a", "b", "c")]
    wall, cpu = bare.run_bare(jobs, 2)
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "c"]
    assert wall > 0 and cpu > 0


def test_clang_start_times_an_empty_module(tmp_path):
    mean = bare.clang_start(TC.tool("clang"), dict(os.environ), 2, str(tmp_path))
    assert 0 < mean < 5
    assert subprocess.run([TC.tool("llvm-nm"), str(tmp_path / "empty.o")],
                          capture_output=True).returncode == 0


def test_unpack_puts_bundle_and_own_bitcode_under_module_names(tmp_path):
    root = tmp_path / "execroot"
    (root / "fe" / "kernel").mkdir(parents=True)
    (root / "fe" / "kernel" / "sys.o").write_bytes(b"BC own")
    src = tmp_path / "src"
    (src / "kernel").mkdir(parents=True)
    (src / "kernel" / "sys.o.thinlto.bc").write_bytes(b"index")
    (src / "mm").mkdir()
    (src / "mm" / "slab_common.o").write_bytes(b"BC imported")
    subprocess.run(["tar", "-cf", str(root / "b.tar"), "kernel", "mm"], cwd=src, check=True)
    b = bare.Backend("b.tar", "fe/kernel/sys.o", "kernel/sys.o", ("x",), ())
    work = tmp_path / "w"
    bare.unpack(b, str(root), str(work))
    assert (work / "kernel" / "sys.o.thinlto.bc").read_bytes() == b"index"
    assert (work / "mm" / "slab_common.o").read_bytes() == b"BC imported"
    assert (work / "kernel" / "sys.o").read_bytes() == b"BC own"
