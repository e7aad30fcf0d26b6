"""tools/kthinlto/autoconf.py: each compile's view of the config header
holds every line the compile can use, and the compile reads the same
program through it as through the whole header."""

import os
import subprocess

from tools.kthinlto import autoconf, flags, kbuild

HEADER = """/*
 * Automatically generated file; DO NOT EDIT.
 */
#define CONFIG_A 1
#define CONFIG_B_MODULE 1
#define CONFIG_C "text"
#define CONFIG_SERIAL_X 1
#define CONFIG_SERIAL_Y 1
#define CONFIG_UNUSED 1
"""

# IS_ENABLED as the kernel's include/linux/kconfig.h builds it: pasting
# _MODULE onto the name, then a placeholder trick (written here anew).
KCONFIG = """#include <generated/autoconf.h>
#define __ARG_PLACEHOLDER_1 0,
#define __take_second_arg(__ignored, val, ...) val
#define __is_defined(x) ___is_defined(x)
#define ___is_defined(val) ____is_defined(__ARG_PLACEHOLDER_##val)
#define ____is_defined(arg1_or_junk) __take_second_arg(arg1_or_junk 1, 0)
#define IS_BUILTIN(option) __is_defined(option)
#define IS_MODULE(option) __is_defined(option##_MODULE)
#define IS_ENABLED(option) (IS_BUILTIN(option) || IS_MODULE(option))
"""

SOURCE = """int a = IS_ENABLED(CONFIG_A);
int b = IS_ENABLED(CONFIG_B);
const char *c = CONFIG_C;
#define SERIAL(opt) IS_ENABLED(CONFIG_SERIAL_##opt)
int x = SERIAL(X), y = SERIAL(Y), z = SERIAL(Z);
"""


def test_names_and_pasted_prefixes_of_a_file():
    named, pasted = autoconf.names_in(SOURCE.encode())
    assert named == {"CONFIG_A", "CONFIG_B", "CONFIG_C", "CONFIG_SERIAL_"}
    assert pasted == {"CONFIG_SERIAL_"}
    assert autoconf.names_in(b"IS_ENABLED(CONFIG_##option)")[1] == {"CONFIG_"}


def test_a_view_has_the_named_their_module_twins_and_the_pasted_prefixes():
    view = autoconf.view(HEADER, {"CONFIG_A", "CONFIG_B"}, {"CONFIG_SERIAL_"})
    defines = [line for line in view.splitlines() if line.startswith("#define")]
    assert defines == ["#define CONFIG_A 1", "#define CONFIG_B_MODULE 1",
                       "#define CONFIG_SERIAL_X 1", "#define CONFIG_SERIAL_Y 1"]
    # Pasted onto CONFIG_ alone: the whole header.
    everything = autoconf.view(HEADER, set(), {"CONFIG_"})
    assert everything.count("#define") == HEADER.count("#define")
    # Named by content: one path per distinct view.
    assert autoconf.view_path(view) == autoconf.view_path(autoconf.view(
        HEADER, {"CONFIG_B", "CONFIG_A"}, {"CONFIG_SERIAL_"}))
    assert autoconf.view_path(view) != autoconf.view_path(everything)


def _tree(root):
    src, obj = root / "src", root / "obj"
    (src / "include" / "linux").mkdir(parents=True)
    (obj / "include" / "generated").mkdir(parents=True)
    (src / "include" / "linux" / "kconfig.h").write_text(KCONFIG)
    (src / "a.c").write_text(SOURCE)
    (src / "plain.c").write_text("int plain;\n")
    (obj / "include" / "generated" / "autoconf.h").write_text(HEADER)
    return str(src), str(obj)


def _preprocessed(srctree, objtree, first_dir=None) -> str:
    tc = kbuild.Toolchain()
    argv = [tc.clang, "-E", "-P", "-nostdinc"]
    if first_dir:
        argv.append(f"-I{first_dir}")
    argv += [f"-I{srctree}/include", f"-I{objtree}/include",
             "-include", f"{srctree}/include/linux/kconfig.h", f"{srctree}/a.c"]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def test_a_compile_reads_the_same_program_through_its_view(tmp_path):
    srctree, objtree = _tree(tmp_path)
    inputs = {
        "a.o": [flags.SRC + "/a.c", flags.SRC + "/include/linux/kconfig.h",
                autoconf.CONFIG_HEADER],
        "plain.o": [flags.SRC + "/plain.c"],   # reads no config header
    }
    views = autoconf.views(inputs, srctree, objtree)
    assert set(views) == {"a.o"}
    path, text = views["a.o"]
    assert "CONFIG_UNUSED" not in text and "CONFIG_SERIAL_Y" in text
    gen = tmp_path / "gen"
    autoconf.write(str(gen), dict(views.values()))
    view_dir = os.path.dirname(os.path.dirname(os.path.join(gen, path)))
    # The view first on the include path, the whole header out of reach:
    # the same program as Kbuild's compile with the whole header.
    os.rename(os.path.join(objtree, "include", "generated", "autoconf.h"),
              tmp_path / "whole.h")
    through_view = _preprocessed(srctree, objtree, view_dir)
    os.rename(tmp_path / "whole.h", os.path.join(objtree, "include", "generated", "autoconf.h"))
    assert through_view == _preprocessed(srctree, objtree)
    assert through_view.split() == (
        'int a = (1 || 0); int b = (0 || 1); const char *c = "text"; '
        "int x = (1 || 0), y = (1 || 0), z = (0 || 0);").split()
