"""tests/e2e/link_command: the parsing behind "the link command is Kbuild's",
on synthetic saved commands (6.1's `cmd_`, 6.12's `savedcmd_`, with and
without lazy archives and objtool) and a fake action."""

import os

import pytest

from tests.e2e import link_command as lc

X86_61 = ("cmd_vmlinux.o := ld.lld-19 -m elf_x86_64 -mllvm -import-instr-limit=5 "
          "-z noexecstack -r -o vmlinux.o -T .tmp_initcalls.lds --whole-archive "
          "vmlinux.a --no-whole-archive --start-group lib/lib.a arch/x86/lib/lib.a "
          "--end-group  ; ./tools/objtool/objtool --hacks=jump_label --hacks=noinstr "
          "--static-call --uaccess --link vmlinux.o\n")
ARM64_612 = ("savedcmd_vmlinux.o := ld.lld-19 -EL  -maarch64elf -z norelro -mllvm "
             "-import-instr-limit=5 -z noexecstack -r -o vmlinux.o  -T .tmp_initcalls.lds "
             "--whole-archive vmlinux.a --no-whole-archive --start-group  --end-group \n")

MEMBERS = {"vmlinux.a": ["init/main.o", "kernel/./fork.o"],
           "lib/lib.a": ["lib/a.o", "lib/b.o"],
           "arch/x86/lib/lib.a": ["arch/x86/lib/c.o"],
           "empty.a": []}


def test_saved_steps_split_at_semicolons_and_drop_empty_steps():
    ld, objtool = lc.saved_steps(X86_61)
    assert ld[:3] == ["ld.lld-19", "-m", "elf_x86_64"] and ld[-1] == "--end-group"
    assert objtool == ["./tools/objtool/objtool", "--hacks=jump_label", "--hacks=noinstr",
                       "--static-call", "--uaccess", "--link", "vmlinux.o"]
    (only,) = lc.saved_steps(ARM64_612)
    assert only[:4] == ["ld.lld-19", "-EL", "-maarch64elf", "-z"]
    assert lc.saved_steps("savedcmd_x.o := a ;  ; b c") == [["a"], ["b", "c"]]
    with pytest.raises(ValueError):
        lc.saved_steps("ld.lld -r -o x.o")


def test_archives_become_their_members_whole_or_lazy():
    (ld, _) = lc.saved_steps(X86_61)
    words = lc.expand_archives(ld, MEMBERS.__getitem__)
    assert words[words.index("--whole-archive"):] == [
        "--whole-archive", "init/main.o", "kernel/fork.o", "--no-whole-archive",
        # Two lazy archives in a row: one --start-lib list, in order.
        "--start-group", "--start-lib", "lib/a.o", "lib/b.o", "arch/x86/lib/c.o",
        "--end-lib", "--end-group"]
    # An empty lazy archive adds nothing; a lazy one after a whole one opens a list.
    assert lc.expand_archives(["--whole-archive", "vmlinux.a", "--no-whole-archive", "empty.a",
                               "lib/lib.a"], MEMBERS.__getitem__) == [
        "--whole-archive", "init/main.o", "kernel/fork.o", "--no-whole-archive",
        "--start-lib", "lib/a.o", "lib/b.o", "--end-lib"]


def test_rewrite_replaces_exact_word_sequences_in_turn():
    subs = [(("ld.lld-19",), ("bin/ld.lld",), "tool"),
            (("--start-group",), (), "no group"),
            (("-z", "now"), ("-z", "lazy"), "pair")]
    assert lc.rewrite(["ld.lld-19", "-z", "now", "--start-group", "-z", "x", "now"], subs) == [
        "bin/ld.lld", "-z", "lazy", "-z", "x", "now"]
    assert lc.rewrite(["a"], []) == ["a"]


def test_response_files_expand_in_place():
    files = {"p.params": "-r\n-o\nout/vmlinux.o\n--whole-archive\n"}
    assert lc.expand_response_files(["ld", "@p.params", "x"], files.__getitem__) == [
        "ld", "-r", "-o", "out/vmlinux.o", "--whole-archive", "x"]


def test_relocate_strips_the_longest_holding_directory():
    dirs = {"bazel-out/k8/bin/external/kernel": "RelocatableLink",
            "bazel-out/k8/bin/external/kernel/be": "ThinLtoBackend",
            "external/kernel/obj": "objtree"}
    words, held = lc.relocate(
        ["-o", "bazel-out/k8/bin/external/kernel/vmlinux.o",
         "bazel-out/k8/bin/external/kernel/be/init/main.o",
         "bazel-out/k8/bin/external/kernel/bex/y.o",
         "external/kernel/obj/tools/objtool/objtool", "external/kernel/objx"], dirs)
    assert words == ["-o", "vmlinux.o", "init/main.o", "bex/y.o",
                     "tools/objtool/objtool", "external/kernel/objx"]
    assert held == {"vmlinux.o": "RelocatableLink", "init/main.o": "ThinLtoBackend",
                    "bex/y.o": "RelocatableLink", "tools/objtool/objtool": "objtree"}


def test_recorders_see_what_the_real_script_runs(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "..", "rules", "private",
                          "relocatable_link.sh")
    argv = ["rules/private/relocatable_link.sh", "ext/llvm/bin/ld.lld", "@out/v.o-0.params",
            "out/v.o", "ext/k/obj/tools/objtool/objtool", "--link"]
    calls, root = lc.run_with_recorders(argv, script, {"out/v.o-0.params": ["-r", "-o", "out/v.o"]},
                                        str(tmp_path))
    assert calls == [["ext/llvm/bin/ld.lld", "@out/v.o-0.params"],
                     ["ext/k/obj/tools/objtool/objtool", "--link", "out/v.o"]]
    with open(os.path.join(root, "out/v.o-0.params")) as f:
        assert f.read() == "-r\n-o\nout/v.o\n"
    # No post-link step: the linker only.
    calls, _ = lc.run_with_recorders(argv[:4], script, {}, str(tmp_path / "2"))
    assert calls == [["ext/llvm/bin/ld.lld", "@out/v.o-0.params"]]


def test_param_file_args_are_what_aquery_shows_in_the_files_place():
    argv = ["s.sh", "ld", "@out/v.o-0.params", "out/v.o", "objtool", "--link"]
    expanded = ["s.sh", "ld", "-r", "-o", "out/v.o", "out/v.o", "objtool", "--link"]
    assert lc.param_file_args(argv, expanded) == {"out/v.o-0.params": ["-r", "-o", "out/v.o"]}
    assert lc.param_file_args(argv[:3], expanded[:5]) == {"out/v.o-0.params": ["-r", "-o", "out/v.o"]}
    assert lc.param_file_args(["a", "b"], ["a", "b"]) == {}
    with pytest.raises(ValueError):
        lc.param_file_args(argv, ["s.sh", "ld", "-r", "out/v.o", "objtool", "--module"])
    with pytest.raises(ValueError):
        lc.param_file_args(["a", "b"], ["a", "c"])
    assert lc.multiline(["-r", "-o", "x"]) == "-r\n-o\nx\n"


READELF_S = """\
There are 5 section headers, starting at offset 0x100:

Section Headers:
  [Nr] Name              Type            Address          Off    Size   ES Flg Lk Inf Al
  [ 0]                   NULL            0000000000000000 000000 000000 00      0   0  0
  [ 1] .text.f           PROGBITS        0000000000000000 000040 000010 00  AX  0   0 16
  [ 2] .static_call_sites PROGBITS       0000000000000000 000050 000010 08  WA  0   0  1
  [ 3] .rela.static_call_sites RELA      0000000000000000 000060 000060 18   I  4   2  8
  [ 4] .text.f           PROGBITS        0000000000000000 0000c0 000004 00  AX  0   0 16
"""

READELF_R = """\

Relocation section '.rela.text.f' at offset 0x200 contains 1 entries:
    Offset             Info             Type               Symbol's Value  Symbol's Name + Addend
0000000000000001  0000000500000004 R_X86_64_PLT32         0000000000000000 g - 4

Relocation section '.rela.static_call_sites' at offset 0x60 contains 2 entries:
    Offset             Info             Type               Symbol's Value  Symbol's Name + Addend
0000000000000000  0000000100000002 R_X86_64_PC32          0000000000000000 .text.f.llvm.123 + 0
0000000000000004  0000000700000002 R_X86_64_PC32          0000000000000000 __SCK__x + 1
"""


def test_section_sizes_and_relocations_from_readelf():
    assert lc.section_sizes(READELF_S) == {".text.f": 0x14, ".static_call_sites": 0x10,
                                           ".rela.static_call_sites": 0x60}
    relocs = lc.relocations(READELF_R, [".rela.static_call_sites"],
                            lambda s: s.replace(".llvm.123", ""))
    assert relocs == {".rela.static_call_sites": [
        ("0000000000000000", "R_X86_64_PC32", "0000000000000000", ".text.f", "+", "0"),
        ("0000000000000004", "R_X86_64_PC32", "0000000000000000", "__SCK__x", "+", "1")]}


def test_lto_placement_puts_native_objects_before_the_backends_objects():
    bitcode = {"init/main.o", "kernel/fork.o", "lib/a.o"}.__contains__
    words = ["-r", "--whole-archive", "init/main.o", "arch/x86/kernel/head_64.o",
             "kernel/fork.o", "arch/x86/lib/memcpy_64.o", "--no-whole-archive",
             "--start-lib", "lib/a.o", "lib/n.o", "--end-lib"]
    assert lc.lto_placement(words, bitcode) == [
        "-r", "--whole-archive", "arch/x86/kernel/head_64.o", "arch/x86/lib/memcpy_64.o",
        "init/main.o", "kernel/fork.o", "--no-whole-archive",
        "--start-lib", "lib/a.o", "lib/n.o", "--end-lib"]
    with pytest.raises(ValueError):
        lc.lto_placement(["--whole-archive", "a.o", "-z", "--no-whole-archive"], bitcode)
