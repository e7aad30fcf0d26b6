"""tests/e2e/kernels.host_path_words: the check behind "no host path in any
action", on a synthetic command line with every form a path can take."""

from tests.e2e import kernels

ABSOLUTE = [
    "/usr/bin/clang-19",
    "-I/usr/include",
    "-isystem/usr/lib/llvm-19/lib/clang/19/include",
    "-L/usr/lib",
    "-B/opt/bin",
    "--sysroot=/srv/root",
    "-Wa,-I/abs/obj,-L/abs/lib",
    "-fmacro-prefix-map=/home/u/linux/=",
    "-Wa,-I/tmp/obj",
    "-Wl,-rpath,/opt/lib",
    "LD_LIBRARY_PATH=lib:/usr/lib",
    "--thinlto-prefix-replace=;/abs/scratch/",
    "@/tmp/params",
]
RELATIVE = [
    "external/kthinlto_llvm/bin/clang",
    "-Iexternal/kernel/src/include",
    "-Wa,-Iexternal/kernel/obj",
    "-o../../../bazel-out/k8-fastbuild/bin/external/kernel/vmlinux_o_be/kernel/sys.o",
    "-fthinlto-index=kernel/sys.o.thinlto.bc",
    "--thinlto-prefix-replace=;../../vmlinux_o_thin_link.scratch/",
    '-DKBUILD_MODFILE="kernel/sys"',
    "-fmacro-prefix-map=external/kernel/src/=",
    "x86_64-linux-gnu",
]


def test_every_form_of_absolute_path_is_caught():
    assert kernels.host_path_words(ABSOLUTE) == ABSOLUTE


def test_relative_paths_and_plain_words_pass():
    assert kernels.host_path_words(RELATIVE) == []


def test_forbidden_strings_are_caught_anywhere():
    words = ["-DROOT=home-kthin-work", "external/x"]
    assert kernels.host_path_words(words, {"home-kthin"}) == ["-DROOT=home-kthin-work"]
