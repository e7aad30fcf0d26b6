"""`bazel build //:vmlinux_o` against Kbuild's own in-process ThinLTO build.

Runs for every configuration in kernels.CONFIGS: 6.1 x86_64 (the default),
6.12 x86_64 and 6.12 arm64, each tinyconfig plus its bootable fragment.
"""

import collections
import os
import re
import subprocess

import pytest

from tests.e2e import kernels
from tools.kthinlto.kbuild import Toolchain

TC = Toolchain()

# ThinLTO promotes module-local symbols to globals named NAME.llvm.<hash of
# the module's bitcode>.  The bitcode names its source file, which Kbuild
# passes by absolute path and Bazel by execroot-relative path, so the hash
# differs while the symbol is the same one.
_PROMOTED = re.compile(r"\.llvm\.[0-9]+")


def defined_symbols(obj: str) -> collections.Counter:
    out = subprocess.run([TC.tool("llvm-nm"), "--defined-only", obj], check=True,
                         capture_output=True, text=True).stdout
    syms = collections.Counter()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[(parts[1], _PROMOTED.sub("", parts[2]))] += 1
    return syms


# Private (.L) globals get a numbered name per module (.Lswitch.table.f.19);
# the number counts earlier globals of that name the optimizer made, which
# is not part of what the code does.
_PRIVATE_NUMBER = re.compile(r"(\.L[^ ]*)\.[0-9]+$")


def section_names(obj: str) -> list[str]:
    out = subprocess.run([TC.tool("llvm-readelf"), "-S", "-W", obj], check=True,
                         capture_output=True, text=True).stdout
    names = re.findall(r"^\s*\[\s*\d+\]\s+(\S+)", out, re.M)
    # With a section per symbol, promoted symbols name sections too.
    return sorted(_PRIVATE_NUMBER.sub(r"\1", _PROMOTED.sub("", n)) for n in names)


@pytest.fixture(scope="session")
def actions(kernel):
    """Every action of //:vmlinux_o, from `bazel aquery`."""
    return kernel.ws.aquery(f"deps({kernel.target('vmlinux_o')})").get("actions", [])


def test_defined_symbols_match_kbuild(kernel):
    ours = defined_symbols(kernel.vmlinux_o)
    theirs = defined_symbols(os.path.join(kernel.reference, "vmlinux.o"))
    assert len(ours) > 1000
    missing = sorted(theirs - ours)[:20]
    extra = sorted(ours - theirs)[:20]
    assert not missing and not extra, f"missing {missing}\nextra {extra}"


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


def test_objtool_arguments_are_kbuilds(kernel):
    # Kbuild runs objtool on vmlinux.o on x86 only (arm64 has none): ours
    # runs it exactly when and as Kbuild's saved command does.
    data = kernel.kernel_data()
    with open(os.path.join(kernel.reference, ".vmlinux.o.cmd")) as f:
        saved = f.readline()
    steps = saved.split(":=", 1)[1].split(";")
    objtool = [s.split() for s in steps if "objtool/objtool" in s]
    (unit,) = [u for u in data["units"] if u["name"] == "vmlinux.o"]
    post_link = unit["post_link"]
    assert bool(post_link) == bool(objtool) == (kernel.arch.name == "x86_64")
    if objtool:
        (words,) = objtool
        assert words[0].endswith("objtool/objtool") and words[-1] == "vmlinux.o"
        assert post_link == ["obj/tools/objtool/objtool", *words[1:-1]]


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


def test_objects_and_order_are_kbuilds(kernel):
    # The archives in the order of Kbuild's own saved link command
    # (arm64 links arch/arm64/lib/lib.a before lib/lib.a, x86 after).
    data = kernel.kernel_data()
    ref = kernel.reference
    with open(os.path.join(ref, ".vmlinux.o.cmd")) as f:
        link = f.readline().split(":=", 1)[1].split(";")[0].split()
    archives = [w for w in link if w.endswith(".a")]
    # With CONFIG_MODULES (the bootable configs have it) Kbuild puts the
    # lib.a members into vmlinux.a, linked whole (modules may need any of
    # them); without it, they follow as lazy lib.a archives.
    assert archives[0] == "vmlinux.a"
    members = []
    for archive in archives:
        out = subprocess.run([TC.tool("llvm-ar"), "t", archive], cwd=ref,
                             check=True, capture_output=True, text=True)
        members += [os.path.normpath(m) for m in out.stdout.split()]
    assert len(members) > 300
    assert _vmlinux_members(data) == members


def test_no_host_path_in_any_action(kernel, actions):
    forbidden = {kernel.ws.root, kernel.ws.output_base, kernels.cache_dir(),
                 kernel.srctree, kernel.objtree}
    bad = []
    for a in actions:
        words = list(a.get("arguments", []))
        words += [e["value"] for e in a.get("environmentVariables", [])]
        bad += [f"{a['mnemonic']}: {w}" for w in kernels.host_path_words(words, forbidden)]
    assert len(actions) > 700
    assert not bad, bad[:10]
