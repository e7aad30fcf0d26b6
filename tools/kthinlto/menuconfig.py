"""`./kthin menuconfig`: Kbuild's own config tools on a declared kernel.

  ./kthin menuconfig [--name=K]            # menuconfig (or --tool=nconfig)
  ./kthin menuconfig --set=CONFIG_CRC_CCITT=y --set=CONFIG_PRINTK_TIME=n
      # the same without a terminal: Kbuild's scripts/config, then
      # `make olddefconfig`
  ./kthin menuconfig --tool=savedefconfig  # Kbuild's minimal defconfig of
      # the kernel's .config, written to kernels/K.defconfig (nothing else
      # changes)

Kbuild's tool runs on a copy of the kernel's translated .config (translated
first if need be) in a scratch object tree.  The options whose values then
differ, those the tool changed by dependency included, are written into the
kernel's own fragment, kernels/K.menuconfig.config (made on first use, then
updated: a later value of an option replaces the earlier), which the
declaration lists last among its fragments; the next `bazel build`
translates again (incrementally).  No option changed (or the tool quit
without saving): nothing is written.
"""

import dataclasses
import logging
import os
import shutil
import subprocess
import sys
import tempfile

from absl import app
from absl import flags as absl_flags

from tools.kthinlto import configure, declaration, kbuild
from tools.kthinlto.records import TranslationError

# --workspace, --name and --cache_dir are configure's (imported above).
FLAGS = absl_flags.FLAGS
absl_flags.DEFINE_enum("tool", "menuconfig", ["menuconfig", "nconfig", "savedefconfig"],
                       "Kbuild's config tool to run.")
absl_flags.DEFINE_multi_string("set", [], "CONFIG_X=VALUE (n unsets it): set through Kbuild's "
                               "scripts/config instead of an interactive tool.")

# The fragment each kernel's changes go to: kernels/<name>.<FRAGMENT>.
FRAGMENT = "menuconfig.config"


def changed(before: dict[str, str], after: dict[str, str]) -> dict[str, str]:
    """CONFIG_X -> its new value ("n": not set), for every option whose
    value differs (read_config(..., unset=True) of each .config)."""
    return {k: after.get(k, "n") for k in sorted(set(before) | set(after))
            if before.get(k, "n") != after.get(k, "n")}


def fragment_text(existing: str, changes: dict[str, str]) -> str:
    """The kernel's fragment with changes applied: an option's line
    replaced where it was, new ones appended."""
    lines, seen = [], set()
    for line in existing.splitlines():
        name = _option_of(line)
        if name in changes:
            line = _line(name, changes[name])
            seen.add(name)
        lines.append(line)
    lines += [_line(k, v) for k, v in changes.items() if k not in seen]
    return "".join(line + "\n" for line in lines)


def _option_of(line: str) -> str | None:
    line = line.strip()
    if line.startswith("CONFIG_") and "=" in line:
        return line.partition("=")[0]
    if line.startswith("# CONFIG_") and line.endswith(" is not set"):
        return line[2:-len(" is not set")]
    return None


def _line(name: str, value: str) -> str:
    return f"# {name} is not set" if value == "n" else f"{name}={value}"


def script_args(settings: list[str]) -> list[str]:
    """--set values as Kbuild's scripts/config arguments."""
    args = []
    for s in settings:
        name, eq, value = s.partition("=")
        if not eq or not name.startswith("CONFIG_") or not value:
            raise TranslationError(f"--set={s}: give CONFIG_X=VALUE (y, m, n, a number or "
                                   "a quoted string)")
        name = name[len("CONFIG_"):]
        if value == "n":
            args += ["--disable", name]
        elif value in ("y", "m"):
            args += ["--enable" if value == "y" else "--module", name]
        elif value.startswith('"'):
            args += ["--set-str", name, value.strip('"')]
        else:
            args += ["--set-val", name, value]
    return args


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv: list[str]) -> None:
    del argv
    kbuild.log_to_stderr()
    ws = os.path.abspath(FLAGS.workspace)
    decl_file = declaration.path(ws, FLAGS.name)
    try:
        decl = declaration.read(decl_file)
        req = configure.request_of(decl, ws, os.cpu_count() or 2, FLAGS.cache_dir, file=decl_file)
        settings = script_args(FLAGS.set)
        gen = configure.translate(req)
    except TranslationError as e:
        sys.exit(f"kthinlto: error: {e}")
    tree = os.path.dirname(gen)
    config = os.path.join(tree, "obj", ".config")
    src = os.path.realpath(os.path.join(gen, "src"))
    tc = kbuild.Toolchain()
    with tempfile.TemporaryDirectory(prefix="kthinlto-menuconfig-") as scratch:
        shutil.copyfile(config, os.path.join(scratch, ".config"))
        make = kbuild.make_args(src, scratch, decl.arch, tc)
        if FLAGS.tool == "savedefconfig":
            _savedefconfig(make, scratch, ws)
            return
        if settings:
            log = os.path.join(scratch, "kbuild.log")
            try:
                kbuild.run([os.path.join(src, "scripts", "config"), "--file",
                            os.path.join(scratch, ".config"), *settings], log, "scripts/config")
                kbuild.run(make + ["olddefconfig"], log, "make olddefconfig")
            except TranslationError as e:
                sys.exit(f"kthinlto: error: {e}")
        elif subprocess.run(make + [FLAGS.tool]).returncode != 0:
            sys.exit(f"kthinlto: error: make {FLAGS.tool} failed; {decl_file} is untouched")
        changes = changed(kbuild.read_config(config, unset=True),
                          kbuild.read_config(os.path.join(scratch, ".config"), unset=True))
    if not changes:
        logging.info("no option changed; %s is untouched", decl_file)
        return
    label = f"//{declaration.DIR}:{FLAGS.name}.{FRAGMENT}"
    fragment = os.path.join(ws, declaration.DIR, f"{FLAGS.name}.{FRAGMENT}")
    existing = open(fragment).read() if os.path.exists(fragment) else ""
    _write(fragment, fragment_text(existing, changes))
    if label not in decl.fragments:
        declaration.write(decl_file, dataclasses.replace(decl, fragments=(*decl.fragments, label)))
    logging.info("%d option%s changed (%s); wrote %s%s; the next bazel build translates again",
                 len(changes), "" if len(changes) == 1 else "s",
                 ", ".join(f"{k}={v}" for k, v in list(changes.items())[:5])
                 + (", ..." if len(changes) > 5 else ""), fragment,
                 "" if label in decl.fragments else f" and added it to {decl_file}")


def _savedefconfig(make: list[str], scratch: str, ws: str) -> None:
    log = os.path.join(scratch, "kbuild.log")
    try:
        kbuild.run(make + ["savedefconfig"], log, "make savedefconfig")
    except TranslationError as e:
        sys.exit(f"kthinlto: error: {e}")
    out = os.path.join(ws, declaration.DIR, f"{FLAGS.name}.defconfig")
    with open(os.path.join(scratch, "defconfig")) as f:
        _write(out, f.read())
    logging.info("wrote %s (Kbuild's savedefconfig of @%s's .config)", out, FLAGS.name)


if __name__ == "__main__":
    app.run(main)
