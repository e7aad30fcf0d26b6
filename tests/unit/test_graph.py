"""tools/kthinlto/graph.py: link units and their objects."""

import pytest

from tools.kthinlto import flags, graph
from tools.kthinlto.graph import LinkUnit, Object
from tools.kthinlto.records import Compile, Record, TranslationError

SRC = "/k/src"
OBJ = "/k/obj"

LINK_ARGV = (
    "-m", "elf_x86_64", "-mllvm", "-import-instr-limit=5", "-z", "noexecstack",
    "-r", "-o", "vmlinux.o", "-T", ".tmp_initcalls.lds",
    "--whole-archive", "vmlinux.a", "--no-whole-archive",
    "--start-group", "lib/lib.a", "arch/x86/lib/lib.a", "--end-group",
)

ARCHIVES = {
    "vmlinux.a": ["init/main.o", "kernel/umh.o", "arch/x86/entry/entry_64.o"],
    "lib/lib.a": ["lib/sort.o", "lib/ctype.o"],
    "arch/x86/lib/lib.a": ["arch/x86/lib/memcpy_64.o"],
}


def members(archive):
    return list(ARCHIVES[archive])


def link_of(whole=(), lazy=(), ldflags=(), post_link=(), scripts=(), name="vmlinux.o"):
    return LinkUnit(name, tuple(ldflags), tuple(whole), tuple(lazy), tuple(scripts),
                    tuple(post_link))


def bitcode_compile(path, source):
    argv = (f"-Wp,-MMD,{path}.d", "-I./include", "-I/k/src/include", "-Os",
            "-flto=thin", "-c", "-o", path, source)
    return Compile(output=path, source=source, argv=argv, bitcode=True)


def native_compile(path, source):
    argv = ("-D__ASSEMBLY__", "-I/k/src/include", "-c", "-o", path, source)
    return Compile(output=path, source=source, argv=argv, bitcode=False)


# parse_link

def test_parse_link_keeps_kbuild_ldflags_in_order():
    link = graph.parse_link(LINK_ARGV, members)
    assert link.ldflags == ("-m", "elf_x86_64", "-mllvm", "-import-instr-limit=5",
                            "-z", "noexecstack")


def test_parse_link_whole_archive_members_in_link_order():
    assert graph.parse_link(LINK_ARGV, members).whole == (
        "init/main.o", "kernel/umh.o", "arch/x86/entry/entry_64.o")


def test_parse_link_lib_members_are_lazy_in_link_order():
    assert graph.parse_link(LINK_ARGV, members).lazy == (
        "lib/sort.o", "lib/ctype.o", "arch/x86/lib/memcpy_64.o")


def test_parse_link_names_the_unit_by_its_output():
    assert graph.parse_link(LINK_ARGV, members).name == "vmlinux.o"
    argv = ("-r", "-o", "./drivers/m/m.lto.o", "drivers/m/a.o")
    assert graph.parse_link(argv, members).name == "drivers/m/m.lto.o"


def test_parse_link_detects_initcall_ordering_script():
    assert graph.parse_link(LINK_ARGV, members).scripts == ("initcalls",)


def test_parse_link_without_linker_script_has_no_initcalls():
    argv = ("-r", "-o", "vmlinux.o", "--whole-archive", "vmlinux.a",
            "--no-whole-archive")
    link = graph.parse_link(argv, members)
    assert link.scripts == ()
    assert link.lazy == ()


def test_parse_link_leaves_post_link_unset():
    assert graph.parse_link(LINK_ARGV, members).post_link == ()


def test_parse_link_links_a_loose_object_whole_in_any_mode():
    # ld links an object named on its command line whatever the archive
    # mode: a module's `ld -r -o x.o a.o b.o`.
    argv = ("-r", "-o", "vmlinux.o", "--whole-archive", "./arch/x86/head.o",
            "--no-whole-archive", "lib/extra.o")
    link = graph.parse_link(argv, members)
    assert link.whole == ("arch/x86/head.o", "lib/extra.o")
    assert link.lazy == ()


def test_parse_link_reads_a_module_response_file_in_order():
    argv = ("-m", "elf_x86_64", "-r", "-o", "fs/fuse/fuse.o", "@fs/fuse/fuse.mod")
    files = {"fs/fuse/fuse.mod": ["fs/fuse/dev.o", "./fs/fuse/dir.o"]}
    link = graph.parse_link(argv, members, files.__getitem__)
    assert (link.name, link.whole, link.ldflags) == (
        "fs/fuse/fuse.o", ("fs/fuse/dev.o", "fs/fuse/dir.o"), ("-m", "elf_x86_64"))


def test_parse_link_names_a_single_object_module_by_its_final_name():
    # cmd_ld_single_m: ld -r -o dir/.tmp_x.o dir/x.o; mv dir/.tmp_x.o dir/x.o
    argv = ("-r", "-o", "lib/.tmp_test_module.o", "lib/test_module.o")
    link = graph.parse_link(argv, members)
    assert (link.name, link.whole) == ("lib/test_module.o", ("lib/test_module.o",))


def test_parse_link_rejects_unknown_linker_script():
    argv = LINK_ARGV[:9] + ("-T", "arch/x86/custom.lds") + LINK_ARGV[11:]
    with pytest.raises(TranslationError, match="arch/x86/custom.lds"):
        graph.parse_link(argv, members)


def test_units_from_records_gives_vmlinux_o_then_modules_in_modules_order():
    a = ("-r", "-o", "drivers/a/a.o", "drivers/a/x.o")
    b = ("-r", "-o", "drivers/b/.tmp_b.o", "drivers/b/b.o")
    recs = [Record("bitcode", OBJ, ("-c", "-o", "a.o", "a.c")), Record("link", OBJ, a),
            Record("link", OBJ, LINK_ARGV), Record("link", OBJ, b)]
    units = graph.units_from_records(recs, members, None,
                                     ["drivers/b/b.ko", "drivers/a/a.ko"])
    assert [(u.name, u.module) for u in units] == [
        ("vmlinux.o", ""), ("drivers/b/b.o", "drivers/b/b.ko"), ("drivers/a/a.o", "drivers/a/a.ko")]


def test_units_from_records_refuses_a_module_kbuild_did_not_link():
    recs = [Record("link", OBJ, LINK_ARGV)]
    with pytest.raises(TranslationError, match="drivers/a/a.ko is in modules.order"):
        graph.units_from_records(recs, members, None, ["drivers/a/a.ko"])


def test_units_from_records_refuses_a_link_of_unknown_purpose():
    recs = [Record("link", OBJ, LINK_ARGV), Record("link", OBJ, ("-r", "-o", "x/y.o", "x/z.o"))]
    with pytest.raises(TranslationError, match="x/y.o with ld -r"):
        graph.units_from_records(recs, members)


def test_units_from_records_without_a_link_names_what_is_missing():
    with pytest.raises(TranslationError, match="expected one link step"):
        graph.units_from_records([Record("bitcode", OBJ, ("-c", "-o", "a.o", "a.c"))], members)


# parse_objtool

def test_parse_objtool_returns_arguments_between_tool_and_vmlinux_o():
    cmd = ("cmd_vmlinux.o := ld.lld-19 -m elf_x86_64 -r -o vmlinux.o "
           "--whole-archive vmlinux.a  ; ./tools/objtool/objtool "
           "--hacks=jump_label --static-call --uaccess --link vmlinux.o")
    assert graph.parse_objtool(cmd) == (graph.OBJTOOL, "--hacks=jump_label", "--static-call",
                                        "--uaccess", "--link")


def test_parse_objtool_accepts_savedcmd_line_with_newline():
    cmd = ("savedcmd_vmlinux.o := ld.lld-19 -r -o vmlinux.o vmlinux.a; "
           "./tools/objtool/objtool --noinstr --link vmlinux.o\n")
    assert graph.parse_objtool(cmd) == (graph.OBJTOOL, "--noinstr", "--link")


def test_parse_objtool_is_empty_without_objtool():
    cmd = "cmd_vmlinux.o := ld.lld-19 -m elf_x86_64 -r -o vmlinux.o --whole-archive vmlinux.a"
    assert graph.parse_objtool(cmd) == ()


def test_parse_objtool_rejects_objtool_on_other_file():
    cmd = "cmd_vmlinux.o := ld -r -o vmlinux.o x.a; ./tools/objtool/objtool --link other.o"
    with pytest.raises(TranslationError, match="other.o"):
        graph.parse_objtool(cmd)


# build_objects

def test_build_objects_in_link_order_with_relocated_source_flags_and_inputs():
    link = link_of(whole=["kernel/umh.o"], lazy=["lib/sort.o"])
    compiles = {"kernel/umh.o": bitcode_compile("kernel/umh.o", "/k/src/kernel/umh.c"),
                "lib/sort.o": bitcode_compile("lib/sort.o", "/k/src/lib/sort.c")}
    inputs = {"kernel/umh.o": ["%{src}/kernel/umh.c"],
              "lib/sort.o": ["%{src}/lib/sort.c", "%{src}/include/x.h"]}
    objs = graph.build_objects([link], compiles, inputs, SRC, OBJ)
    fe = ("-I%{obj}/include", "-I%{src}/include", "-Os", "-flto=thin")
    assert objs == [
        Object("kernel/umh.o", True, "%{src}/kernel/umh.c", fe,
               ("%{src}/kernel/umh.c",)),
        # Its inputs sorted (the scanner gives them in the compiler's order).
        Object("lib/sort.o", True, "%{src}/lib/sort.c", fe,
               ("%{src}/include/x.h", "%{src}/lib/sort.c")),
    ]


def test_build_objects_compiles_an_object_of_two_units_once():
    compiles = {p: bitcode_compile(p, f"/k/src/{p[:-2]}.c") for p in ("a.o", "b.o", "c.o")}
    inputs = {p: [] for p in compiles}
    units = [link_of(whole=["a.o"], lazy=["b.o"]), link_of(whole=["b.o", "c.o"], name="m.o")]
    assert [o.path for o in graph.build_objects(units, compiles, inputs, SRC, OBJ)] == [
        "a.o", "b.o", "c.o"]


def test_build_objects_native_object_gets_objtree_assembler_include():
    link = link_of(whole=["arch/x86/entry/entry_64.o"])
    compiles = {"arch/x86/entry/entry_64.o": native_compile(
        "arch/x86/entry/entry_64.o", "/k/src/arch/x86/entry/entry_64.S")}
    inputs = {"arch/x86/entry/entry_64.o": ["%{src}/arch/x86/entry/entry_64.S"]}
    [obj] = graph.build_objects([link], compiles, inputs, SRC, OBJ)
    assert obj.bitcode is False
    assert obj.flags == ("-D__ASSEMBLY__", "-I%{src}/include", flags.ASSEMBLER_OBJTREE)


def test_build_objects_raises_naming_object_linked_but_not_compiled():
    link = link_of(whole=["kernel/umh.o", "kernel/made_by_objcopy.o"])
    compiles = {"kernel/umh.o": bitcode_compile("kernel/umh.o", "/k/src/kernel/umh.c")}
    inputs = {"kernel/umh.o": ["%{src}/kernel/umh.c"]}
    with pytest.raises(TranslationError, match="/k/obj/kernel/made_by_objcopy.o"):
        graph.build_objects([link], compiles, inputs, SRC, OBJ)


def test_build_objects_takes_an_object_kbuild_made_with_another_tool_as_prebuilt(tmp_path):
    # arm64's kernel/pi/*.pi.o: objcopy'd from a native compile, real code in
    # the object tree after translation, no $(CC) record of its own.
    objtree = tmp_path / "obj"
    (objtree / "arch/arm64/kernel/pi").mkdir(parents=True)
    (objtree / "arch/arm64/kernel/pi/map_range.pi.o").write_bytes(b"\x7fELF")
    link = link_of(whole=["kernel/umh.o", "arch/arm64/kernel/pi/map_range.pi.o"])
    compiles = {"kernel/umh.o": bitcode_compile("kernel/umh.o", "/k/src/kernel/umh.c")}
    inputs = {"kernel/umh.o": ["%{src}/kernel/umh.c"]}
    umh, pi = graph.build_objects([link], compiles, inputs, SRC, str(objtree))
    assert not umh.prebuilt
    assert pi == Object("arch/arm64/kernel/pi/map_range.pi.o", False,
                        "%{obj}/arch/arm64/kernel/pi/map_range.pi.o", (), (),
                        prebuilt=True)


def test_build_objects_raises_on_object_linked_twice():
    link = link_of(whole=["lib/sort.o"], lazy=["lib/sort.o"])
    compiles = {"lib/sort.o": bitcode_compile("lib/sort.o", "/k/src/lib/sort.c")}
    inputs = {"lib/sort.o": ["%{src}/lib/sort.c"]}
    with pytest.raises(TranslationError, match="lib/sort.o is linked twice"):
        graph.build_objects([link], compiles, inputs, SRC, OBJ)


# host_paths

def test_host_paths_reports_object_flags_and_ldflags_naming_host_trees():
    obj = Object("a.o", True, "%{src}/a.c", ("-Os", "-I/k/obj/leak"), ())
    link = link_of(ldflags=["--build-id", "-Map=/k/src/map"], post_link=(graph.OBJTOOL, "--link"))
    assert graph.host_paths([obj], [link], SRC, OBJ) == [
        "a.o: -I/k/obj/leak", "vmlinux.o: -Map=/k/src/map"]


def test_host_paths_is_empty_for_relocated_flags():
    obj = Object("a.o", True, "%{src}/a.c", ("-I%{src}/include",), ())
    assert graph.host_paths([obj], [link_of(ldflags=["-r"])], SRC, OBJ) == []


# modfinal: is_ko_link, parse_ko_link, module_finals

KO_ARGV = ("-r", "-m", "elf_x86_64", "-z", "noexecstack", "--build-id=sha1",
           "-T", "scripts/module.lds", "-o", "fs/fuse/fuse.ko",
           "fs/fuse/fuse.o", "fs/fuse/fuse.mod.o")


def mod_o_compile(stem):
    source = f"{stem}.mod.c"
    argv = (f"-Wp,-MMD,{stem}.mod.o.d", "-nostdinc", "-I/k/src/include", "-I./include",
            "-include", "/k/src/include/linux/kconfig.h", "-DMODULE", "-Os",
            "-c", "-o", f"{stem}.mod.o", source)
    return Compile(output=f"{stem}.mod.o", source=source, argv=argv, bitcode=False)


def module_unit(stem):
    unit = link_of(whole=[f"{stem}.o"], name=f"{stem}.o")
    return LinkUnit(unit.name, unit.ldflags, unit.whole, unit.lazy, unit.scripts,
                    unit.post_link, module=f"{stem}.ko")


def test_is_ko_link_only_for_an_output_ending_in_ko():
    assert graph.is_ko_link(KO_ARGV)
    assert not graph.is_ko_link(LINK_ARGV)
    assert not graph.is_ko_link(("-r", "-o", "fs/fuse/fuse.o", "fs/fuse/dev.o"))
    # The last -o counts; a -o without a value is none.
    assert not graph.is_ko_link(("-o", "x.ko", "-o", "x.o", "a.o"))
    assert not graph.is_ko_link(("a.o", "-o"))
    assert not graph.is_ko_link(())


def test_parse_ko_link_splits_flags_script_and_objects_in_link_order():
    assert graph.parse_ko_link(KO_ARGV, SRC, OBJ) == (
        "fs/fuse/fuse.ko",
        ("-r", "-m", "elf_x86_64", "-z", "noexecstack", "--build-id=sha1"),
        "%{obj}/scripts/module.lds",
        ("fs/fuse/fuse.o", "fs/fuse/fuse.mod.o"))


def test_parse_ko_link_relocates_absolute_paths_and_normalizes_objects():
    argv = ("-r", "-T", "/k/src/arch/x86/module.lds", "-Map=x", "/k/obj/extra/map.txt",
            "-o", "./fs/fuse/fuse.ko", "./fs/fuse/fuse.o", "fs/fuse//fuse.mod.o")
    module, ldflags, script, objects = graph.parse_ko_link(argv, SRC, OBJ)
    assert module == "fs/fuse/fuse.ko"
    assert script == "%{src}/arch/x86/module.lds"
    assert ldflags == ("-r", "-Map=x", "%{obj}/extra/map.txt")
    assert objects == ("fs/fuse/fuse.o", "fs/fuse/fuse.mod.o")


def test_units_from_records_ignores_ko_links():
    a = ("-r", "-o", "drivers/a/a.o", "drivers/a/x.o")
    ko = ("-r", "-T", "scripts/module.lds", "-o", "drivers/a/a.ko",
          "drivers/a/a.o", "drivers/a/a.mod.o")
    recs = [Record("link", OBJ, LINK_ARGV), Record("link", OBJ, a), Record("link", OBJ, ko)]
    units = graph.units_from_records(recs, members, None, ["drivers/a/a.ko"])
    assert [(u.name, u.module) for u in units] == [
        ("vmlinux.o", ""), ("drivers/a/a.o", "drivers/a/a.ko")]


def finals_of(recs, units, compiles=None, inputs=None):
    compiles = compiles if compiles is not None else {
        f"{u.module[:-3]}.mod.o": mod_o_compile(u.module[:-3]) for u in units if u.module}
    inputs = inputs if inputs is not None else {
        p: [f"%{{obj}}/{p[:-2]}.c", "%{src}/include/linux/module.h",
            "%{obj}/include/generated/autoconf.h"] for p in compiles}
    return graph.module_finals(recs, compiles, units, inputs, SRC, OBJ)


def test_module_finals_gives_each_module_units_final_steps_in_the_units_order():
    ext = ("-r", "-m", "elf_x86_64", "-T", "scripts/module.lds", "-o", "ext/e.ko",
           "ext/e.o", "ext/e.mod.o")
    recs = [Record("link", OBJ, LINK_ARGV), Record("link", OBJ, ext),
            Record("link", OBJ, KO_ARGV)]
    units = [link_of(whole=["kernel/umh.o"]), module_unit("fs/fuse/fuse"),
             module_unit("ext/e")]
    finals = finals_of(recs, units)
    assert [f.module for f in finals] == ["fs/fuse/fuse.ko", "ext/e.ko"]
    fuse = finals[0]
    assert fuse == graph.ModuleFinal(
        module="fs/fuse/fuse.ko",
        cflags=("-nostdinc", "-I%{src}/include", "-I%{obj}/include",
                "-include", "%{src}/include/linux/kconfig.h", "-DMODULE", "-Os"),
        # Its headers in the scanner's order; the .mod.c, which modpost
        # writes, is not among them.
        inputs=("%{src}/include/linux/module.h", "%{obj}/include/generated/autoconf.h"),
        ldflags=("-r", "-m", "elf_x86_64", "-z", "noexecstack", "--build-id=sha1"),
        script="%{obj}/scripts/module.lds")
    assert finals[1].ldflags == ("-r", "-m", "elf_x86_64")


def test_module_finals_is_empty_without_module_units():
    assert finals_of([Record("link", OBJ, LINK_ARGV)], [link_of(whole=["a.o"])]) == ()


def test_module_finals_refuses_a_module_kbuild_did_not_link_to_a_ko():
    with pytest.raises(TranslationError, match="Kbuild's modfinal linked no fs/fuse/fuse.ko"):
        finals_of([Record("link", OBJ, LINK_ARGV)], [module_unit("fs/fuse/fuse")])


def test_module_finals_keeps_objects_linked_into_every_ko_after_the_mod_o():
    # 6.12: each .ko also links .module-common.o, compiled once.
    common = KO_ARGV + ("./.module-common.o",)
    [final] = finals_of([Record("link", OBJ, common)], [module_unit("fs/fuse/fuse")])
    assert final.common == (".module-common.o",)
    assert final.ldflags == ("-r", "-m", "elf_x86_64", "-z", "noexecstack", "--build-id=sha1")


def test_module_finals_refuses_a_ko_link_of_unexpected_objects():
    swapped = KO_ARGV[:-2] + ("fs/fuse/fuse.mod.o", "fs/fuse/fuse.o")
    with pytest.raises(TranslationError, match=(
            r"fs/fuse/fuse.ko: Kbuild linked it as `-T %\{obj\}/scripts/module.lds` from "
            r"fs/fuse/fuse.mod.o fs/fuse/fuse.o; kthinlto expects -T SCRIPT fs/fuse/fuse.o "
            r"fs/fuse/fuse.mod.o")):
        finals_of([Record("link", OBJ, swapped)], [module_unit("fs/fuse/fuse")])
    without_mod_o = KO_ARGV[:-1]
    with pytest.raises(TranslationError, match="fs/fuse/fuse.ko: Kbuild linked it as"):
        finals_of([Record("link", OBJ, without_mod_o)], [module_unit("fs/fuse/fuse")])
    other_object = KO_ARGV[:-2] + ("fs/fuse/inode.o", "fs/fuse/fuse.mod.o")
    with pytest.raises(TranslationError, match="from fs/fuse/inode.o fs/fuse/fuse.mod.o"):
        finals_of([Record("link", OBJ, other_object)], [module_unit("fs/fuse/fuse")])


def test_module_finals_refuses_a_ko_link_without_a_linker_script():
    no_script = KO_ARGV[:6] + KO_ARGV[8:]
    with pytest.raises(TranslationError, match=r"Kbuild linked it as `-T \?`"):
        finals_of([Record("link", OBJ, no_script)], [module_unit("fs/fuse/fuse")])


def test_module_finals_refuses_a_module_whose_mod_o_was_not_compiled():
    with pytest.raises(TranslationError, match="did not compile fs/fuse/fuse.mod.o"):
        finals_of([Record("link", OBJ, KO_ARGV)], [module_unit("fs/fuse/fuse")],
                  compiles={}, inputs={})


def test_module_finals_refuses_a_ko_of_no_module_unit():
    other = ("-r", "-T", "scripts/module.lds", "-o", "x/y.ko", "x/y.o", "x/y.mod.o")
    recs = [Record("link", OBJ, KO_ARGV), Record("link", OBJ, other)]
    with pytest.raises(TranslationError, match="Kbuild linked x/y.ko, which is no module of modules.order"):
        finals_of(recs, [module_unit("fs/fuse/fuse")])
