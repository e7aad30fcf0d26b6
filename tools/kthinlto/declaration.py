"""A kernel declaration: the checked-in file that says what kernel is built.

Each kernel a workspace builds is one JSON file, kernels/<name>.json, and one
Bazel repository, @<name> (WORKSPACE: kthinlto_kernel(); MODULE.bazel: the
kthinlto extension's kernel tag).  `@kernel` is the default, behind
//:vmlinux_o.  The repository rule (rules/private/repositories.bzl) hands
the file to the translator (configure.py --declaration), which checks it
here before any Kbuild step and translates it, or reuses the translation of
the same inputs from KTHINLTO_CACHE.  `./kthin configure` writes it.

Fields (only "source" is required):

  source      a Debian package pinned in tools/kthinlto/sources.json
              ("linux-source-6.1"), a kernel tree, or a .tar.xz of one
              (a label, or a path: absolute or workspace-relative)
  sha256      the expected sha256 of a tarball source
  arch        Kbuild's ARCH (default x86_64)
  config      a config target (tinyconfig, defconfig, ...)
  config_file a full .config instead of config (a label)
  fragments   config fragments merged on top, in order (labels)
  kcflags     extra C flags for every kernel compile (Kbuild's KCFLAGS)

Labels name files in Bazel packages so that Bazel translates again when
they change: "//kernels:my.config" (this workspace) or
"@kthinlto//configs:bootable.config" (the ruleset's own).
"""

import dataclasses
import json
import os
import re
import shutil

from tools.kthinlto import arches
from tools.kthinlto.records import TranslationError

# The ruleset's checkout, which @kthinlto names.
RULESET = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULESET_REPO = "kthinlto"
DIR = "kernels"            # where a workspace keeps its declarations
DEFAULT_NAME = "kernel"    # the repository behind //:vmlinux_o

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_LABEL = re.compile(r"^(?:@([A-Za-z0-9_.-]*))?//([A-Za-z0-9_./-]*):([^:]+)$")


@dataclasses.dataclass(frozen=True)
class Declaration:
    """One declared kernel; see the module docstring for each field."""
    source: str
    sha256: str = ""
    arch: str = "x86_64"
    config: str = ""
    config_file: str = ""
    fragments: tuple[str, ...] = ()
    kcflags: str = ""


_FIELDS = {f.name for f in dataclasses.fields(Declaration)}


def path(workspace: str, name: str) -> str:
    """Where the declaration of repository `name` lives."""
    return os.path.join(workspace, DIR, name + ".json")


def label_of(name: str) -> str:
    return f"//{DIR}:{name}.json"


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise TranslationError(
            f"--name={name}: a kernel's name is a Bazel repository name "
            "(a letter, then letters, digits or _), e.g. kernel_arm64")


def read(path: str, file: str | None = None) -> Declaration:
    """Parses and checks a declaration file; errors name the file (as
    `file`, default its path) and the field."""
    file = file or path
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise TranslationError(f"{file}: no such declaration; "
                               "write it with ./kthin configure") from None
    except ValueError as e:
        raise TranslationError(f"{file}: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise TranslationError(f"{file}: must be a JSON object of fields")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise TranslationError(f"{file}: unknown field {unknown[0]!r} "
                               f"(fields: {', '.join(sorted(_FIELDS))})")
    if not data.get("source"):
        raise TranslationError(f"{file}: field 'source' is required (a pinned "
                               "package, a kernel tree or a tarball)")
    for key, value in data.items():
        want = list if key == "fragments" else str
        if not isinstance(value, want) or (
                want is list and not all(isinstance(v, str) for v in value)):
            raise TranslationError(f"{file}: field {key!r} must be "
                                   f"{'a list of strings' if want is list else 'a string'}")
    decl = Declaration(**dict(data, fragments=tuple(data.get("fragments", ()))))
    if decl.config and decl.config_file:
        raise TranslationError(f"{file}: fields 'config' and 'config_file' "
                               "exclude each other; keep one")
    return decl


def to_json(decl: Declaration) -> str:
    """The file's text: source, arch and the fields that differ from their
    defaults, one field per line (a change to a field is a one-line diff,
    the fragments' list included)."""
    lines = []
    for f in dataclasses.fields(Declaration):
        value = getattr(decl, f.name)
        if f.name in ("source", "arch") or value != f.default:
            value = list(value) if f.name == "fragments" else value
            lines.append(f"  {json.dumps(f.name)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write(file: str, decl: Declaration) -> None:
    """Replaces the file in one rename (never half-written)."""
    os.makedirs(os.path.dirname(file), exist_ok=True)
    tmp = f"{file}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(to_json(decl))
    os.replace(tmp, file)


def default_fragment(arch: str) -> str:
    """The arch's bootable fragment as a label of the ruleset ("" if none)."""
    known = arches.ARCHES.get(arch)
    if not known:
        return ""
    package, name = os.path.split(known.bootable_fragment)
    return f"@{RULESET_REPO}//{package}:{name}"


def is_label(value: str) -> bool:
    return value.startswith(("//", "@"))


def resolve(value: str, workspace: str, field: str) -> str:
    """A label or path of the declaration -> an absolute path (errors name
    the field; the caller names the file)."""
    if not is_label(value):
        return os.path.normpath(os.path.join(workspace, value))
    m = _LABEL.match(value)
    if not m:
        raise TranslationError(f"{field}={value}: not a label (//package:file)")
    repo, package, name = m.groups()
    if repo in (None, ""):
        root = workspace
    elif repo == RULESET_REPO:
        root = RULESET
    else:
        raise TranslationError(f"{field}={value}: labels name this workspace "
                               f"(//...) or @{RULESET_REPO} only")
    return os.path.join(root, package, name)


def watched_labels(decl: Declaration) -> list[str]:
    """The labels whose files Bazel watches (canonical: @repo//pkg:name)."""
    values = [decl.source, decl.config_file, *decl.fragments]
    return [("@" + v if v.startswith("//") else v) for v in values if v and is_label(v)]


def as_label(file: str, workspace: str, name: str) -> tuple[str, str | None]:
    """How a declaration names a file given on the command line:
    (label, file to copy it from, or None).

    A file inside a package of the workspace or the ruleset keeps its place;
    any other is copied into kernels/ as <name>.<basename>, so that the
    declaration, and what it names, is in the workspace.
    """
    real = os.path.realpath(file)
    for root, prefix in ((os.path.realpath(workspace), "//"),
                         (os.path.realpath(RULESET), f"@{RULESET_REPO}//")):
        if real.startswith(root + os.sep):
            package = _package_of(root, os.path.dirname(real))
            if package is not None:
                rel = os.path.relpath(real, os.path.join(root, package))
                return f"{prefix}{'' if package == '.' else package}:{rel}", None
    return f"//{DIR}:{name}.{os.path.basename(file)}", real


def _package_of(root: str, directory: str) -> str | None:
    """The nearest directory at or above `directory` with a BUILD file,
    root-relative ("." for the root), or None."""
    while True:
        if any(os.path.isfile(os.path.join(directory, b)) for b in ("BUILD", "BUILD.bazel")):
            return os.path.relpath(directory, root)
        if directory == root or not directory.startswith(root):
            return None
        directory = os.path.dirname(directory)


def copy_into(workspace: str, copies: dict[str, str]) -> None:
    """Copies files named on the command line into kernels/ (label -> file)."""
    for label, src in copies.items():
        dest = os.path.join(workspace, DIR, label.split(":", 1)[1])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.realpath(src) != os.path.realpath(dest):
            shutil.copyfile(src, dest + ".tmp")
            os.replace(dest + ".tmp", dest)


_BUILD = '''\
# Kernel declarations (./kthin configure writes them; see
# tools/kthinlto/declaration.py).  Their files are labels the rules watch.
exports_files(glob(["*"]))
'''


def register(workspace: str, name: str) -> list[str]:
    """Makes sure repository `name` is declared in the workspace's WORKSPACE
    and MODULE.bazel (appending if not); returns the files changed."""
    changed = []
    build = os.path.join(workspace, DIR, "BUILD.bazel")
    if not os.path.exists(build):
        os.makedirs(os.path.dirname(build), exist_ok=True)
        with open(build, "w") as f:
            f.write(_BUILD)
        changed.append(build)
    decl = label_of(name)
    call = f'(\n    name = "{name}",\n    declaration = "{decl}",\n)\n'
    module = os.path.join(workspace, "MODULE.bazel")
    # The ruleset's own kernels are a dev dependency (its MODULE.bazel).
    proxy = ("kthinlto_dev" if os.path.exists(module) and "kthinlto_dev = use_extension("
             in _text(module) else "kthinlto")
    appends = {
        "WORKSPACE": f'\nload("@{RULESET_REPO}//rules:repositories.bzl", "kthinlto_kernel")\n\n'
                     f"kthinlto_kernel{call}",
        "MODULE.bazel": f'\n{proxy}.kernel{call}\nuse_repo({proxy}, "{name}")\n',
    }
    for base, text in appends.items():
        file = os.path.join(workspace, base)
        if os.path.exists(file) and f'name = "{name}"' not in _text(file):
            with open(file, "a") as f:
                f.write(text)
            changed.append(file)
    return changed


def _text(file: str) -> str:
    with open(file) as f:
        return f.read()
