"""tools/kthinlto/flags.py: relocation and filtering of Kbuild command lines."""

from tools.kthinlto import flags

SRC = "/k/src"
OBJ = "/k/obj"

# A compile as Kbuild runs it with O=/k/obj from /k/obj (kernel/umh.o).
KBUILD_ARGV = (
    "-Wp,-MMD,kernel/.umh.o.d", "-nostdinc",
    "-I/k/src/arch/x86/include", "-I./arch/x86/include/generated",
    "-I/k/src/include", "-I./include",
    "-include", "/k/src/include/linux/kconfig.h",
    "-D__KERNEL__", "-fmacro-prefix-map=/k/src/=",
    "-Os", "-fno-lto", "-flto=thin", "-fsplit-lto-unit", "-fvisibility=hidden",
    "-I", "/k/src/kernel", "-I", "./kernel",
    '-DKBUILD_MODFILE="kernel/umh"',
    "-c", "-o", "kernel/umh.o", "/k/src/kernel/umh.c",
)


def frontend(argv=KBUILD_ARGV):
    return flags.frontend_flags(tuple(argv), SRC, OBJ)


# relocate_path

def test_relocate_path_maps_absolute_source_path_to_src():
    assert (flags.relocate_path("/k/src/include/linux/kconfig.h", SRC, OBJ)
            == "%{src}/include/linux/kconfig.h")


def test_relocate_path_maps_source_tree_root_to_bare_src_token():
    assert flags.relocate_path("/k/src", SRC, OBJ) == "%{src}"
    assert flags.relocate_path("/k/src/", SRC, OBJ) == "%{src}"


def test_relocate_path_maps_dot_relative_objtree_path_to_obj():
    assert flags.relocate_path("./include", SRC, OBJ) == "%{obj}/include"


def test_relocate_path_maps_bare_relative_objtree_path_to_obj():
    assert flags.relocate_path("kernel", SRC, OBJ) == "%{obj}/kernel"


def test_relocate_path_maps_absolute_objtree_path_to_obj():
    assert (flags.relocate_path("/k/obj/include/generated/autoconf.h", SRC, OBJ)
            == "%{obj}/include/generated/autoconf.h")


def test_relocate_path_returns_absolute_path_outside_both_trees_unchanged():
    assert (flags.relocate_path("/usr/lib/clang/19/include", SRC, OBJ)
            == "/usr/lib/clang/19/include")


def test_relocate_path_returns_relative_path_escaping_objtree_unchanged():
    assert flags.relocate_path("../elsewhere/x.h", SRC, OBJ) == "../elsewhere/x.h"


def test_relocate_path_does_not_treat_sibling_with_common_prefix_as_tree():
    assert flags.relocate_path("/k/srcfoo/x.h", SRC, OBJ) == "/k/srcfoo/x.h"


# frontend_flags

def test_frontend_flags_on_kbuild_command_line():
    assert frontend() == [
        "-nostdinc",
        "-I%{src}/arch/x86/include", "-I%{obj}/arch/x86/include/generated",
        "-I%{src}/include", "-I%{obj}/include",
        "-include", "%{src}/include/linux/kconfig.h",
        "-D__KERNEL__", "-fmacro-prefix-map=%{src}/=",
        "-Os", "-fno-lto", "-flto=thin", "-fsplit-lto-unit", "-fvisibility=hidden",
        "-I", "%{src}/kernel", "-I", "%{obj}/kernel",
        '-DKBUILD_MODFILE="kernel/umh"',
    ]


def test_frontend_flags_drops_compile_output_source_and_depfile():
    out = frontend()
    for dropped in ("-c", "-o", "kernel/umh.o", "/k/src/kernel/umh.c",
                    "-Wp,-MMD,kernel/.umh.o.d"):
        assert dropped not in out


def test_frontend_flags_drops_md_depfile_form():
    argv = ("-Wp,-MD,arch/x86/.x.o.d", "-c", "-o", "x.o", "/k/src/x.S")
    assert frontend(argv) == []


def test_frontend_flags_relocates_joined_include_dirs():
    out = frontend(("-I/k/src/include", "-I./include", "-c", "/k/src/a.c"))
    assert out == ["-I%{src}/include", "-I%{obj}/include"]


def test_frontend_flags_relocates_separate_include_dirs():
    out = frontend(("-I", "/k/src/kernel", "-I", "./kernel", "-c", "/k/src/a.c"))
    assert out == ["-I", "%{src}/kernel", "-I", "%{obj}/kernel"]


def test_frontend_flags_relocates_forced_include():
    out = frontend(("-include", "/k/src/include/linux/kconfig.h",
                    "-include", "./include/generated/autoconf.h", "/k/src/a.c"))
    assert out == ["-include", "%{src}/include/linux/kconfig.h",
                   "-include", "%{obj}/include/generated/autoconf.h"]


def test_frontend_flags_relocates_joined_isystem():
    out = frontend(("-isystem/k/src/include/std", "/k/src/a.c"))
    assert out == ["-isystem%{src}/include/std"]


def test_frontend_flags_relocates_macro_prefix_map_of_source_tree():
    out = frontend(("-fmacro-prefix-map=/k/src/=", "/k/src/a.c"))
    assert out == ["-fmacro-prefix-map=%{src}/="]


def test_frontend_flags_keeps_prefix_map_of_other_directory():
    out = frontend(("-ffile-prefix-map=/other/=", "/k/src/a.c"))
    assert out == ["-ffile-prefix-map=/other/="]


def test_frontend_flags_keeps_defines_and_codegen_flags_in_order():
    out = frontend()
    kept = [f for f in out if f.startswith("-D") or f in (
        "-Os", "-fno-lto", "-flto=thin", "-fsplit-lto-unit", "-fvisibility=hidden")]
    assert kept == ["-D__KERNEL__", "-Os", "-fno-lto", "-flto=thin",
                    "-fsplit-lto-unit", "-fvisibility=hidden",
                    '-DKBUILD_MODFILE="kernel/umh"']


# source_index

def test_source_index_finds_last_source_argument():
    assert flags.source_index(KBUILD_ARGV) == len(KBUILD_ARGV) - 1


def test_source_index_skips_values_of_options_that_take_one():
    argv = ("-I", "dir.c", "-o", "gen.S", "-c", "/k/src/a.c", "-x", "b.s")
    assert flags.source_index(argv) == 5


def test_source_index_is_minus_one_without_source():
    assert flags.source_index(("-c", "-o", "a.o", "-Os")) == -1


# backend_flags

def test_backend_flags_drops_preprocessor_options_and_flto():
    fe = ["-nostdinc", "-I%{src}/include", "-I", "%{obj}/kernel",
          "-include", "%{src}/include/linux/kconfig.h",
          "-isystem", "/usr/lib/clang/19/include", "-isystem/usr/include",
          "-D__KERNEL__", "-D", "FOO=1", "-UBAR", "-U", "BAZ",
          "-Wp,-MMD,x.d", "-flto=thin", "-flto",
          "-Os", "-mcmodel=kernel", "-fsplit-lto-unit", "-fvisibility=hidden"]
    assert flags.backend_flags(fe) == [
        "-Os", "-mcmodel=kernel", "-fsplit-lto-unit", "-fvisibility=hidden"]


def test_backend_flags_of_kbuild_frontend_flags_keeps_codegen_only():
    assert flags.backend_flags(frontend()) == [
        "-fmacro-prefix-map=%{src}/=", "-Os", "-fno-lto", "-fsplit-lto-unit",
        "-fvisibility=hidden"]


def test_backend_flags_keeps_assembler_objtree_include():
    assert flags.backend_flags([flags.ASSEMBLER_OBJTREE]) == ["-Wa,-I%{obj}"]


# preprocess_only

def test_preprocess_only_replaces_compile_with_preprocess_to_stdout():
    argv = ("-Wp,-MMD,arch/x86/.a.o.d", "-D__ASSEMBLY__", "-I./include", "-c",
            "-o", "arch/x86/a.o", "/k/src/arch/x86/a.S")
    assert flags.preprocess_only(argv) == [
        "-D__ASSEMBLY__", "-I./include", "/k/src/arch/x86/a.S", "-E", "-o", "-"]
