"""The translated kernel's compile_commands.json (the JSON compilation
database editors and clang tools read).

One entry per object the FE phase compiles, with the argv of its FE action
(the compiler, the object's flags, `-c -o OUTPUT SOURCE`) as it runs on this
machine: the relocation tokens (%{src}, %{obj}) become the real source tree
and the translation's object tree (where the generated headers are), and
the one flag only the Bazel sandbox needs is left out.  The translation
writes it into its generated repository (emit.write); `./kthin
compile-commands` copies it into the workspace.
"""

import os

from tools.kthinlto import flags
from tools.kthinlto.graph import Object

# Flags the FE action carries only because Bazel runs it in the execroot:
# the assembler's include directory for `.incbin "<objtree-relative>"`,
# which a compile run in the object tree (directory) finds without it.
SANDBOX_ONLY = frozenset([flags.ASSEMBLER_OBJTREE])


def entries(objs: list[Object], srctree: str, objtree: str,
            compiler: str) -> list[dict]:
    """The compilation database of objs: one entry per compiled object
    (prebuilt ones are not compiled), in objs' order.

    srctree, objtree: absolute; compiler: what the FE action runs, as
    Kbuild names it (clang-19).
    """
    out = []
    for o in objs:
        if o.prebuilt:
            continue
        source = flags.expand(o.source, srctree, objtree)
        output = os.path.join(objtree, o.path)
        argv = [compiler,
                *(flags.expand(f, srctree, objtree) for f in o.flags
                  if f not in SANDBOX_ONLY),
                "-c", "-o", output, source]
        out.append({"directory": objtree, "file": source, "arguments": argv,
                    "output": output})
    return out
