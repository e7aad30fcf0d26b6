"""compile_commands.json of each declared kernel against Kbuild's own
`make compile_commands.json` of the same source tree and config.

Kbuild's target runs scripts/clang-tools/gen_compile_commands.py over the
.cmd files of the objects in vmlinux.a, its library archives and the
modules' .mod lists: exactly the objects kthinlto compiles with FE actions.
Kbuild's hand-offs are in neither (host tools, the vDSO's own objects, the
boot image's, a module's .mod.c), nor are objects Kbuild made with another
tool than $(CC) (arm64's objcopy'd .pi.o, taken prebuilt by kthinlto).
The one difference: a Kbuild whose script matches only C sources (6.1:
its pattern ends in `\\.c`; 6.12 takes `\\.[cS]`) lists no assembly object,
so there ours holds its assembly compiles in addition, and nothing else.

Per object, the whole argv is Kbuild's, paths mapped between the two
object trees, minus what only Kbuild's own command has: its dependency file
(`-Wp,-MMD,...`; the FE action declares its inputs instead).
"""

import json
import os
import re
import shlex
import shutil

from tests.e2e import kernels
from tools.kthinlto import emit, kbuild

# Options whose value is a path, separate or joined.
_PATH_OPTIONS = ("-include", "-imacros", "-isystem", "-iquote", "-idirafter", "-I")


def kbuild_compile_commands(kernel) -> list[dict]:
    """Kbuild's own `make compile_commands.json` in the reference tree
    (the fixture built it: make only reads its .cmd files)."""
    kernels.run(kbuild.make_args(kernels.reference_source(kernel.reference),
                                 kernel.reference, kernel.arch.name,
                                 kbuild.Toolchain()) + ["compile_commands.json"])
    with open(os.path.join(kernel.reference, "compile_commands.json")) as f:
        return [dict(e, arguments=shlex.split(e["command"])) for e in json.load(f)]


def ours(kernel) -> list[dict]:
    with open(os.path.join(kernel.gen(), emit.COMPILE_COMMANDS)) as f:
        return json.load(f)


def kbuild_takes_assembly(srctree: str) -> bool:
    """Whether the tree's gen_compile_commands.py lists .S compiles."""
    with open(os.path.join(srctree, "scripts/clang-tools/gen_compile_commands.py")) as f:
        return r"\.[cS])" in f.read()


def output_of(entry: dict) -> str:
    """The object an entry compiles, relative to its directory."""
    args = entry["arguments"]
    out = args[args.index("-o") + 1]
    return os.path.relpath(os.path.join(entry["directory"], out), entry["directory"])


def path_values(args: list[str]):
    """(index, option, value) of every path option in args."""
    for i, a in enumerate(args):
        if a in _PATH_OPTIONS and i + 1 < len(args):
            yield i, a, args[i + 1]
        elif opt := next((o for o in _PATH_OPTIONS if a.startswith(o) and a != o), None):
            yield i, opt, a[len(opt):]


def normalized(entry: dict, srctree: str) -> list[str]:
    """The entry's argv without -c, -o X, the source and Kbuild's
    dependency file; paths absolute, the trees as $SRC and $OBJ."""
    directory = entry["directory"]

    def mapped(path: str) -> str:
        path = os.path.normpath(os.path.join(directory, path))
        for root, name in ((directory, "$OBJ"), (srctree, "$SRC")):
            if path == root or path.startswith(root + "/"):
                return name + path[len(root):]
        return path

    args = list(entry["arguments"])
    for i, opt, value in list(path_values(args)):
        args[i + (1 if args[i] == opt else 0)] = (
            mapped(value) if args[i] == opt else opt + mapped(value))
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a == "-o":
            skip = True
        elif a == "-c" or a.startswith("-Wp,-MMD,") or mapped(a) == mapped(entry["file"]):
            pass
        else:
            out.append(a.replace(srctree + "/", "$SRC/").replace(directory + "/", "$OBJ/"))
    return out


def test_same_compiles_and_flags_as_kbuild(kernel):
    """Ours has one entry per FE compile of the Bazel graph (kernel.bzl's
    objects but the prebuilt ones and those modfinal links into every .ko,
    6.12's .module-common.o, which Kbuild's database does not list
    either); Kbuild's database has the same objects
    (on 6.1 less the assembly ones), and per object the same
    argv (compiler, defines, include paths, -include, -f/-m options,
    --target, -std, warnings, in Kbuild's order)."""
    mine = {output_of(e): e for e in ours(kernel)}
    assert len(mine) == len(ours(kernel)), "an object twice in compile_commands.json"
    data = kernel.kernel_data()
    common = {p for f in (data["modules"] or {}).get("finals", []) for p in f["common"]}
    compiled = [o for o in data["objects"] if not o["prebuilt"] and o["path"] not in common]
    assert mine.keys() == {o["path"] for o in compiled}, (
        "compile_commands.json is not the graph's FE compiles: "
        f"{sorted(mine.keys() ^ {o['path'] for o in compiled})[:5]}")
    theirs = {output_of(e): e for e in kbuild_compile_commands(kernel)}
    assert not theirs.keys() - mine.keys(), (
        f"Kbuild compiles {sorted(theirs.keys() - mine.keys())[:5]}, ours not")
    assembly = {o["path"] for o in compiled if data["files"][o["source"]].endswith(".S")}
    assert assembly, "no assembly object: the rule below would test nothing"
    expected_extra = set() if kbuild_takes_assembly(kernel.srctree) else assembly
    assert mine.keys() - theirs.keys() == expected_extra, (
        f"ours only: {sorted(mine.keys() - theirs.keys() - expected_extra)[:5]}, "
        f"missing: {sorted(expected_extra - (mine.keys() - theirs.keys()))[:5]}")
    differ = []
    for obj in sorted(theirs):
        a, b = (normalized(mine[obj], kernel.srctree),
                normalized(theirs[obj], kernels.reference_source(kernel.reference)))
        if a != b:
            differ.append(f"{obj}: ours only {[x for x in a if x not in b]}, "
                          f"Kbuild's only {[x for x in b if x not in a]}, or the order")
    assert not differ, f"{len(differ)} of {len(theirs)} differ, e.g. {differ[:3]}"


def test_every_path_is_on_this_machine(kernel):
    """directory, file, output, the compiler and every path option name
    something on this machine: the source tree or the translation's object
    tree, never the Bazel sandbox or a relocation token."""
    gen = kernel.gen()
    objtree = os.path.realpath(os.path.join(gen, "obj"))
    entries = ours(kernel)
    assert entries
    for e in entries:
        assert e["directory"] == objtree, e["directory"]
        args = e["arguments"]
        assert shutil.which(args[0]), f"{args[0]}: not on PATH"
        assert args[-4:] == ["-c", "-o", e["output"], e["file"]], args[-4:]
        paths = [e["file"], e["output"]] + [v for _, _, v in path_values(args)]
        for p in paths:
            assert os.path.isabs(p), f"{e['output']}: {p} is relative"
            assert p.startswith((kernel.srctree + "/", objtree + "/")), (
                f"{e['output']}: {p} is in neither tree")
            assert os.path.exists(p), f"{e['output']}: {p} does not exist"
        leftovers = [a for a in args if "%{" in a or re.search(r"(^|[=,])(bazel-out|external)/", a)]
        assert not leftovers, f"{e['output']}: sandbox paths {leftovers}"
