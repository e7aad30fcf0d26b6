"""Rewrites Kbuild's command lines into host-independent Bazel flags.

Kbuild (with O=) names source files by absolute path and generated files
relative to the object tree.  Bazel actions must name neither host path, so
every path becomes `%{src}/...` or `%{obj}/...`; the rules replace those with
the kernel repository's execroot-relative directories.
"""

import os

from tools.kthinlto.contract import OBJ, SRC  # noqa: F401 (this module's API too)

# Options whose value is a path, as separate argument or joined.
_PATH_OPTIONS = ("-include", "-imacros", "-isystem", "-iquote", "-idirafter",
                 "-I")


def relocate_path(path: str, srctree: str, cwd: str) -> str:
    """A path as Kbuild passed it -> `%{src}/rel` or `%{obj}/rel`."""
    absolute = os.path.normpath(os.path.join(cwd, path))
    roots = sorted(((os.path.normpath(srctree), SRC), (os.path.normpath(cwd), OBJ)),
                   key=lambda r: -len(r[0]))  # an objtree inside the srctree
    for root, token in roots:
        if absolute == root:
            return token
        if absolute.startswith(root + os.sep):
            return token + "/" + absolute[len(root) + 1:]
    return path


def expand(flag: str, srctree: str, objtree: str) -> str:
    """A relocated flag or path back on this machine: the tokens become
    the real trees (what rules/private/common.bzl's expand does with the
    execroot's)."""
    return flag.replace(SRC, srctree).replace(OBJ, objtree)


def _relocate_prefix_map(arg: str, srctree: str) -> str:
    # -fmacro-prefix-map=OLD=NEW: OLD is the source tree with a slash.
    flag, _, value = arg.partition("=")
    old, sep, new = value.partition("=")
    if old.rstrip("/") == os.path.normpath(srctree):
        return f"{flag}={SRC}/{sep}{new}"
    return arg


def frontend_flags(argv: tuple[str, ...], srctree: str, objtree: str) -> list[str]:
    """Kbuild's compile arguments minus output, source, -c and dep files.

    Everything else stays as Kbuild computed it, with paths relocated.
    """
    source = source_index(argv)
    out = []
    path_value = False
    for i in _compile_words(argv):
        a = argv[i]
        if path_value:
            out.append(relocate_path(a, srctree, objtree))
            path_value = False
        elif i == source:
            continue
        elif a in _PATH_OPTIONS and i + 1 < len(argv):
            out.append(a)
            path_value = True
        elif joined := next((o for o in _PATH_OPTIONS if a.startswith(o)), None):
            out.append(joined + relocate_path(a[len(joined):], srctree, objtree))
        elif a.startswith(("-fmacro-prefix-map=", "-ffile-prefix-map=",
                           "-fdebug-prefix-map=")):
            out.append(_relocate_prefix_map(a, srctree))
        else:
            out.append(a)
    return out


def _compile_words(argv: tuple[str, ...]):
    """Indexes of argv without `-o X`, `-c` and Kbuild's dependency files."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-o":
            i += 2
            continue
        if a != "-c" and not a.startswith(("-Wp,-MMD,", "-Wp,-MD,")):
            yield i
        i += 1


def source_index(argv: tuple[str, ...]) -> int:
    """Index of the last non-option argument naming a C or assembly source."""
    idx = -1
    skip = False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if a in TAKES_VALUE:
            skip = True
            continue
        if not a.startswith("-") and a.endswith((".c", ".S", ".s")):
            idx = i
    return idx


# Options whose value is the next argument (the ones Kbuild uses).
TAKES_VALUE = frozenset([
    "-o", "-I", "-include", "-imacros", "-isystem", "-iquote", "-idirafter",
    "-x", "-MF", "-MT", "-MQ", "-Xclang", "-mllvm", "-T", "-target",
])


# Preprocessor options: meaningless for a backend compile of IR, dropped the
# way mainline's CONFIG_LTO_CLANG_THIN_DIST drops them (-Wp%, -D%, includes).
_PREPROCESSOR_WITH_VALUE = frozenset(["-I", "-include", "-imacros", "-isystem",
                                      "-iquote", "-idirafter", "-D", "-U"])
_PREPROCESSOR_PREFIXES = ("-I", "-D", "-U", "-Wp,", "-isystem", "-iquote",
                          "-idirafter", "-imacros", "-include")


def backend_flags(fe_flags: list[str]) -> list[str]:
    """Frontend flags minus preprocessor options and -flto=thin."""
    out = []
    i = 0
    while i < len(fe_flags):
        a = fe_flags[i]
        if a in _PREPROCESSOR_WITH_VALUE:
            i += 2
            continue
        if a.startswith(_PREPROCESSOR_PREFIXES) or a in ("-nostdinc", "-flto=thin", "-flto"):
            i += 1
            continue
        out.append(a)
        i += 1
    return out


def preprocess_only(argv: tuple[str, ...]) -> list[str]:
    """A compile command turned into `-E -o -` (stdout), without dep files."""
    return [argv[i] for i in _compile_words(argv)] + ["-E", "-o", "-"]


# Kbuild runs the assembler in the object tree, so `.incbin "rel/path"` is
# found relative to it; Bazel runs in the execroot, so the object tree becomes
# an assembler include directory instead.
ASSEMBLER_OBJTREE = "-Wa,-I" + OBJ
