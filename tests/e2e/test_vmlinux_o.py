"""`bazel build //:vmlinux_o` against Kbuild's own in-process ThinLTO build.

Runs for every configuration in kernels.CONFIGS: 6.1 x86_64 (the default),
6.12 x86_64 and 6.12 arm64, each tinyconfig plus its bootable fragment.
"""

import collections
import dataclasses
import difflib
import hashlib
import os
import re
import subprocess

import pytest

from tests.e2e import kernels, link_command
from tools.kthinlto import execlog
from tools.kthinlto.contract import MNEMONIC
from tools.kthinlto.kbuild import Toolchain

TC = Toolchain()

# Private (.L) globals get a numbered name per module (.Lswitch.table.f.19);
# the number counts earlier globals of that name the optimizer made, which
# is not part of what the code does.
_PRIVATE_NUMBER = re.compile(r"(\.L[^ ]*)\.[0-9]+$")


def section_names(obj: str) -> list[str]:
    out = subprocess.run([TC.tool("llvm-readelf"), "-S", "-W", obj], check=True,
                         capture_output=True, text=True).stdout
    names = re.findall(r"^\s*\[\s*\d+\]\s+(\S+)", out, re.M)
    # With a section per symbol, promoted symbols name sections too.
    return sorted(_PRIVATE_NUMBER.sub(r"\1", kernels.PROMOTED.sub("", n)) for n in names)


@pytest.fixture(scope="session")
def actions(kernel):
    """Every action of //:vmlinux_o, from `bazel aquery`."""
    return kernel.ws.aquery(f"deps({kernel.target('vmlinux_o')})").get("actions", [])


def test_defined_symbols_match_kbuild(kernel):
    ours = kernels.symbols(kernel.vmlinux_o)
    theirs = kernels.symbols(os.path.join(kernel.reference, "vmlinux.o"))
    assert len(ours) > 1000
    missing = sorted(theirs - ours)[:20]
    extra = sorted(ours - theirs)[:20]
    assert not missing and not extra, f"missing {missing}\nextra {extra}"


def test_symbol_visibility_is_kbuilds_but_for_aliases_of_dropped_weak_twins(kernel):
    # llvm-nm shows no visibility: llvm-readelf does.  Every defined global
    # has Kbuild's visibility, except aliases that Kbuild's in-process link
    # made HIDDEN from a weak hidden twin the distributed thin link drops
    # (kernels.hidden_by_kbuild_only says why): each must be an alias, and
    # its twin is found in Kbuild's own objects, symbol by symbol.
    reference = os.path.join(kernel.reference, "vmlinux.o")
    ours, theirs = kernels.global_symbols(kernel.vmlinux_o), kernels.global_symbols(reference)
    assert len(ours) > 1000
    assert set(ours) == set(theirs)
    lost = kernels.hidden_by_kbuild_only(kernel.vmlinux_o, reference)
    print(f"DEFAULT here, HIDDEN in Kbuild's: {lost}")
    other = sorted(n for n in ours if ours[n][0] != theirs[n][0] and n not in lost)
    assert not other, [(n, ours[n][0], theirs[n][0]) for n in other[:20]]
    assert all(lost.values()), lost


def test_sections_match_kbuild(kernel):
    # The BE emits a section per function and data object, as lld does
    # in-process; objtool --link adds its own (.static_call_sites, ...).  The
    # same list as Kbuild's shows both.
    theirs = section_names(os.path.join(kernel.reference, "vmlinux.o"))
    ours = section_names(kernel.vmlinux_o)
    assert len(ours) > 1000
    assert ours == theirs


def test_initcall_linker_script_is_kbuilds_byte_for_byte(kernel):
    # initcall_order.py stands in for Kbuild's generate_initcall_order.pl;
    # the final link places every initcall by this file.
    execroot = kernel.ws.bazel("info", "execution_root").stdout.strip()
    ours = os.path.join(execroot, kernel.output_dir("InitcallOrder"), ".tmp_initcalls.lds")
    with open(ours) as f:
        text = f.read()
    with open(os.path.join(kernel.reference, ".tmp_initcalls.lds")) as f:
        assert text == f.read()
    assert text.count("*(.initcall") > 10


def _vmlinux_members(data: dict) -> list[str]:
    (unit,) = [u for u in data["units"] if u["name"] == "vmlinux.o"]
    return unit["whole"] + unit["lazy"]


def test_one_action_per_object_and_phase(kernel, actions):
    data = kernel.kernel_data()
    # Every object is compiled once (:objects, the modules' too); vmlinux.o's
    # members have its backends and initcall scans.
    bitcode = sum(o["bitcode"] for o in data["objects"])
    # Made by Kbuild with another tool than $(CC) (arm64's .pi.o), linked in.
    prebuilt = sum(o.get("prebuilt", 0) for o in data["objects"])
    native = len(data["objects"]) - bitcode - prebuilt
    members = _vmlinux_members(data)
    linked = set(members)
    vmlinux_bitcode = sum(o["bitcode"] for o in data["objects"] if o["path"] in linked)
    counts = collections.Counter(a["mnemonic"] for a in actions)
    assert bitcode > 300 and native > 5
    assert counts["ThinLtoCompile"] == bitcode
    assert counts["NativeCompile"] == native
    assert counts["Symlink"] == prebuilt
    assert counts["ThinLtoIndex"] == 1
    assert counts["ThinLtoBackend"] == vmlinux_bitcode
    assert counts["RelocatableLink"] == 1
    assert counts["InitcallOrder"] == 1
    # Initcall symbols are scanned in shards of 32 objects, FE outputs only.
    assert counts["InitcallScan"] == -(-len(members) // 32)


# --- vmlinux.o's link and objtool as they ran, against Kbuild's -------------
#
# Ours: the RelocatableLink action of vmlinux.o (aquery), the command line
# its spawn ran (the execution log: the @params file it names, whose bytes
# the log's digest proves to be the aquery's arguments), and what the real
# relocatable_link.sh runs of it (link_command.run_with_recorders): the
# linker's argv and the post-link step's.  Kbuild's: its saved
# .vmlinux.o.cmd.  Paths are made object-tree-relative on both sides:
# Bazel's output directories stripped, Kbuild's archives replaced by their
# members (link_command.expand_archives: vmlinux.a whole, lib.a lazy, as
# --start-lib MEMBERS --end-lib, which lld links as it links the archive),
# placed as lld places them in Kbuild's in-process LTO link
# (link_command.lto_placement: native objects, then LTO's).

# Every other difference between Kbuild's link of vmlinux.o and ours:
# (Kbuild's words, ours, why).  Kbuild's command, rewritten by these, must
# be ours word for word.
LINK_DIFFERENCES = (
    (("ld.lld-19",), ("external/kthinlto_llvm/bin/ld.lld",),
     "the linker: @kthinlto_llvm's ld.lld (LLVM 19, a declared input) where "
     "Kbuild's LLVM=-19 runs the host's ld.lld-19"),
    (("--start-group",), (),
     "lld ignores --start-group/--end-group (it resolves archives in any "
     "order); Bazel links no archive, its lazy members are a --start-lib list"),
    (("--end-group",), (), "as --start-group"),
)

# The same for objtool's command.
OBJTOOL_DIFFERENCES = (
    (("./tools/objtool/objtool",), ("tools/objtool/objtool",),
     "Kbuild names its object tree's objtool from the tree's root with ./; "
     "ours is the translation's object tree's (external/<repo>/obj/...), "
     "built by Kbuild from the same source and config"),
)


@dataclasses.dataclass
class RanLink:
    """What vmlinux.o's RelocatableLink ran, paths object-tree-relative."""
    ld: list[str]              # the linker's argv, its @file expanded
    post_link: list[list[str]]  # each command run after it ([] or [objtool argv])
    held: dict[str, str]       # relocated path -> the directory it was in


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="session")
def ran_link(kernel, tmp_path_factory) -> RanLink:
    """vmlinux.o's RelocatableLink (aquery) as its spawn ran it (the build's
    execution log), replayed through the real relocatable_link.sh with
    recorders standing in for the linker and objtool."""
    aq = kernel.ws.aquery(kernel.target("vmlinux_o"))
    (action,) = [a for a in aq["actions"] if a["mnemonic"] == "RelocatableLink"]
    (out,) = [execlog.artifact_paths(aq)[i] for i in action["outputIds"]]
    (spawn,) = [e for e in execlog.read(kernel.exec_log)
                if e.get("mnemonic") == "RelocatableLink" and e["listedOutputs"] == [out]]
    argv = spawn["commandArgs"]
    digests = {i["path"]: i["digest"]["hash"] for i in spawn["inputs"]}
    params = link_command.param_file_args(argv, action["arguments"])
    assert len(params) == 1
    for path, args in params.items():
        assert _sha256(link_command.multiline(args).encode()) == digests[path], path
    execroot = kernel.ws.bazel("info", "execution_root").stdout.strip()
    script = os.path.join(execroot, argv[0])
    with open(script, "rb") as f:
        assert _sha256(f.read()) == digests[argv[0]], script
    calls, root = link_command.run_with_recorders(
        argv, script, params, str(tmp_path_factory.mktemp("ran_link")))

    def read(path):
        with open(os.path.join(root, path)) as f:
            return f.read()

    dirs = kernel.ws.output_dirs(kernel.target("vmlinux_o"))
    held_by = {dirs["RelocatableLink"]: "output", dirs["ThinLtoBackend"]: "backend",
               dirs["NativeCompile"]: "objects", dirs["InitcallOrder"]: "script",
               f"external/{kernel.repo}/obj": "objtree"}
    ld, held = link_command.relocate(link_command.expand_response_files(calls[0], read), held_by)
    post_link = []
    for call in calls[1:]:
        words, more = link_command.relocate(call, held_by)
        post_link.append(words)
        held.update(more)
    return RanLink(ld, post_link, held)


def _kbuild_steps(kernel) -> list[list[str]]:
    """Kbuild's saved commands for vmlinux.o: the link, then objtool (x86)."""
    with open(os.path.join(kernel.reference, ".vmlinux.o.cmd")) as f:
        return link_command.saved_steps(f.readline())


def _differ(theirs: list[str], ours: list[str]) -> str:
    return "\n".join(list(difflib.unified_diff(theirs, ours, "Kbuild (rewritten)", "Bazel",
                                               lineterm="", n=3))[:60])


def test_link_command_is_kbuilds(kernel, ran_link):
    # Every linker flag in order, the linker script, every input object in
    # order (vmlinux.a's members whole, lib.a's lazy), the output.
    kbuild = _kbuild_steps(kernel)[0]
    members = link_command.archive_members(TC.tool("llvm-ar"), kernel.reference)
    theirs = link_command.expand_archives(kbuild, members)
    # Kbuild's lld compiles the bitcode members in-process and adds the
    # objects LTO made after all of its inputs: in Kbuild's vmlinux.o every
    # native object's sections come first (.text, .init.text, .data, ...),
    # then the bitcode objects', each in link order.  Ours links the
    # backends' objects in that place.
    theirs = link_command.lto_placement(
        theirs, lambda p: link_command.is_bitcode(os.path.join(kernel.reference, p)))
    theirs = link_command.rewrite(theirs, LINK_DIFFERENCES)
    ours = ran_link.ld
    assert ours == theirs, _differ(theirs, ours)
    assert len(ours) > 300 and ours[ours.index("-o") + 1] == "vmlinux.o"
    assert ran_link.held["vmlinux.o"] == "output"
    assert ran_link.held[".tmp_initcalls.lds"] == "script"
    # The same path from the right phase: a bitcode object's backend output
    # (its frontend's bitcode has that path too), a native object's own.
    objects = kernel.kernel_data()["objects"]
    linked = set(ours)
    wrong = [(o["path"], ran_link.held.get(o["path"])) for o in objects
             if o["path"] in linked
             and ran_link.held.get(o["path"]) != ("backend" if o["bitcode"] else "objects")]
    assert not wrong, wrong[:10]


def test_objtool_command_is_kbuilds(kernel, ran_link):
    # Kbuild runs objtool on vmlinux.o on x86 only (arm64 has none): ours
    # runs exactly what Kbuild's saved command runs after the link.
    kbuild = _kbuild_steps(kernel)[1:]
    assert len(kbuild) == (1 if kernel.arch.name == "x86_64" else 0)
    theirs = [link_command.rewrite(step, OBJTOOL_DIFFERENCES) for step in kbuild]
    assert ran_link.post_link == theirs, "\n".join(
        _differ(t, o) for t, o in zip(theirs, ran_link.post_link)) or ran_link.post_link
    for step in ran_link.post_link:
        assert step[0] == "tools/objtool/objtool" and step[-1] == "vmlinux.o"
        assert ran_link.held[step[0]] == "objtree"


# The sections objtool writes into a linked object (tools/objtool/check.c,
# orc_gen.c of 6.1 and 6.12), each only with its option (--orc, --retpoline,
# --rethunk, --hacks=skylake, --static-call, --cfi, --mcount, --ibt) and
# sites to list.
OBJTOOL_SECTIONS = (".orc_unwind", ".orc_unwind_ip", ".retpoline_sites", ".return_sites",
                    ".call_sites", ".static_call_sites", ".cfi_sites", "__mcount_loc",
                    ".ibt_endbr_seal")
# What the x86_64 test configs have as real kernels do (configs/
# bootable.config: ORC, the CPU mitigations, IBT), and the section objtool
# then fills: each must be there, non-empty, in Kbuild's vmlinux.o and ours.
X86_OBJTOOL_OPTIONS = {
    ".orc_unwind": ("CONFIG_UNWINDER_ORC",),
    ".orc_unwind_ip": ("CONFIG_UNWINDER_ORC",),
    ".retpoline_sites": ("CONFIG_RETPOLINE", "CONFIG_MITIGATION_RETPOLINE"),
    ".return_sites": ("CONFIG_RETHUNK", "CONFIG_MITIGATION_RETHUNK"),
    ".ibt_endbr_seal": ("CONFIG_X86_KERNEL_IBT",),
}


def _section_bytes(obj: str, name: str, tmp: str) -> bytes:
    out = os.path.join(tmp, name.lstrip(".") + ".bin")
    subprocess.run([TC.tool("llvm-objcopy"), f"--dump-section={name}={out}", obj,
                    os.path.join(tmp, "scratch.o")], check=True, capture_output=True)
    with open(out, "rb") as f:
        return f.read()


def _readelf(*args: str) -> str:
    return subprocess.run([TC.tool("llvm-readelf"), *args], check=True,
                          capture_output=True, text=True).stdout


def _symbol(name: str) -> str:
    return _PRIVATE_NUMBER.sub(r"\1", kernels.PROMOTED.sub("", name))


def test_objtool_output_is_kbuilds(kernel, tmp_path):
    # objtool's sections have Kbuild's sizes, and their relocations (the
    # sites objtool found: where, of what symbol) are Kbuild's in order;
    # the ORC table (no relocations: each entry's stack and frame offsets)
    # is Kbuild's byte for byte.
    ref = os.path.join(kernel.reference, "vmlinux.o")
    ours = link_command.section_sizes(_readelf("-S", "-W", kernel.vmlinux_o))
    theirs = link_command.section_sizes(_readelf("-S", "-W", ref))
    names = [n for s in OBJTOOL_SECTIONS for n in (s, ".rela" + s) if n in ours or n in theirs]
    assert bool(names) == (len(_kbuild_steps(kernel)) > 1)
    if kernel.arch.name == "x86_64":
        config = kernels.read_config(os.path.join(kernel.objtree, ".config"))
        for section, options in X86_OBJTOOL_OPTIONS.items():
            assert any(config.get(o) == "y" for o in options), (section, options)
            assert theirs.get(section) and ours.get(section), (section, theirs.get(section))
        if config.get("CONFIG_CALL_THUNKS") == "y":     # 6.12's call-depth tracking
            assert theirs.get(".call_sites") and ours.get(".call_sites")
        assert _section_bytes(kernel.vmlinux_o, ".orc_unwind", str(tmp_path)) == \
            _section_bytes(ref, ".orc_unwind", str(tmp_path))
    sizes, kbuild = ({n: s.get(n) for n in names} for s in (ours, theirs))
    assert sizes == kbuild, f"ours {sizes}, Kbuild's {kbuild}"
    rela = [n for n in names if n.startswith(".rela")]
    ours_r = link_command.relocations(_readelf("-r", "-W", kernel.vmlinux_o), rela, _symbol)
    theirs_r = link_command.relocations(_readelf("-r", "-W", ref), rela, _symbol)
    for n in rela:
        assert len(ours_r[n]) * 24 == ours[n]
        assert ours_r[n] == theirs_r[n], _differ([" ".join(r) for r in theirs_r[n]],
                                                 [" ".join(r) for r in ours_r[n]])


def test_no_host_path_in_any_action_of_any_target(kernel, actions):
    # vmlinux.o's actions, and every other target's: the modules (modpost,
    # the .ko links, the install), vmlinux and the boot image (KbuildTail).
    forbidden = {kernel.ws.root, kernel.ws.output_base, kernels.cache_dir(),
                 kernel.srctree, kernel.objtree}
    others = kernel.ws.aquery(" + ".join(
        f"deps({kernel.target(t)})" for t in ("modules", "vmlinux", kernel.arch.image)))
    mnemonics = {a["mnemonic"] for a in others.get("actions", [])}
    assert {MNEMONIC[k] for k in ("MODULE_LINK", "MODPOST", "MODULES_INSTALL", "KBUILD_TAIL")} \
        <= mnemonics, mnemonics
    bad = kernels.action_host_paths({"actions": actions}, forbidden)
    bad += kernels.action_host_paths(others, forbidden)
    assert len(actions) > 700
    assert not bad, bad[:10]
