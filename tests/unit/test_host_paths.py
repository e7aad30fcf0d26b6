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
    "-MF/tmp/dep.d",
    "-Wp,-MMD,/tmp/x.o.d",
    "-Wp,-MF/tmp/x.o.d",
    '-DKBUILD_SRC="/home/u/linux"',
    "-DROOT='/srv'",
    "sh -c cd /abs/tree && make",
    "-Wl,-L/usr/lib,--as-needed",
    "$(/usr/bin/true)",
    "--linker-script=/k/obj/arch/x86/kernel/vmlinux.lds",
]
RELATIVE = [
    # ModulesBuiltin's saved command (Kbuild's scripts/Makefile.vmlinux_o).
    "tr '\\0' '\\n' < modules.builtin.modinfo | sed -n 's/^[[:alnum:]:_]*\\.file=//p' | "
    "sed -e 's:^:kernel/:' -e 's/$/.ko/' > modules.builtin",
    "external/kthinlto_llvm/bin/clang",
    "-Iexternal/kernel/src/include",
    "-Wa,-Iexternal/kernel/obj",
    "-o../../../bazel-out/k8-fastbuild/bin/external/kernel/vmlinux_o_be/kernel/sys.o",
    "-fthinlto-index=kernel/sys.o.thinlto.bc",
    "--thinlto-prefix-replace=;../../vmlinux_o_thin_link.scratch/",
    '-DKBUILD_MODFILE="kernel/sys"',
    "-fmacro-prefix-map=external/kernel/src/=",
    "x86_64-linux-gnu",
    "-MFkernel/.sys.o.d",
    "-Wp,-MMD,kernel/.sys.o.d",
    '-DKBUILD_BASENAME="sys"',
    "sh -c cd external/kernel && make O=obj",
    "-T",
    "arch/x86/kernel/vmlinux.lds",
    "8/16",
]


def test_every_form_of_absolute_path_is_caught():
    missed = [w for w in ABSOLUTE if not kernels.host_path_words([w])]
    assert not missed, f"absolute paths not caught: {missed}"


def test_relative_paths_and_plain_words_pass():
    caught = kernels.host_path_words(RELATIVE)
    assert not caught, f"relative words taken for host paths: {caught}"


def test_forbidden_strings_are_caught_anywhere():
    words = ["-DROOT=home-kthin-work", "external/x"]
    assert kernels.host_path_words(words, {"home-kthin"}) == ["-DROOT=home-kthin-work"]
