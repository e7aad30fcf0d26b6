"""What the translator and the rules must agree on, written once.

The translator (Python) imports these; the rules load them from
rules/private/contract.bzl, which this module writes (checked in):

  python3 -m tools.kthinlto.contract --write

tests/unit/test_contract.py fails when that file is not what this module
writes (edited by hand, or this module changed without --write).
"""

import os
import sys

# The version of KERNEL, the data the translator writes into the generated
# kernel.bzl (rules/private/schema.bzl documents its shape and refuses any
# other version).  Raise it whenever the shape changes.
#   3: link units (units), objects keyed by path without lazy.
#   4: modules (units[i].module).
#   5: modpost, each module's .mod.o compile and .ko link (modules).
KERNEL_SCHEMA = 6

# The tokens of relocated paths in KERNEL (flags, inputs): the rules make
# them execroot paths of the generated repository's src/ and obj/.
SRC = "%{src}"
OBJ = "%{obj}"

# Every action's mnemonic, by what it does; the reports, benches and tests
# group actions by them.
MNEMONIC = {
    "THINLTO_COMPILE": "ThinLtoCompile",
    "NATIVE_COMPILE": "NativeCompile",
    "INITCALL_SCAN": "InitcallScan",
    "INITCALL_ORDER": "InitcallOrder",
    "THINLTO_INDEX": "ThinLtoIndex",
    "THINLTO_BACKEND": "ThinLtoBackend",
    "RELOCATABLE_LINK": "RelocatableLink",
    "SYMBOL_ORDER": "SymbolOrder",
    "KBUILD_TAIL": "KbuildTail",
    "MODPOST": "Modpost",
    "MODULE_INFO_COMPILE": "ModuleInfoCompile",
    "MODULE_LINK": "ModuleLink",
    "MODULES_BUILTIN": "ModulesBuiltin",
    "MODULES_INSTALL": "ModulesInstall",
}

BZL = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "rules", "private", "contract.bzl")


def bzl_text() -> str:
    """rules/private/contract.bzl as this module writes it."""
    fields = "".join(f'    {name} = "{value}",\n' for name, value in MNEMONIC.items())
    return (
        '"""What the translator and the rules agree on.\n\n'
        "Generated from tools/kthinlto/contract.py by `python3 -m\n"
        "tools.kthinlto.contract --write`; do not edit (tests/unit/test_contract.py\n"
        'fails if this file is not what it writes).\n"""\n\n'
        "# The version of KERNEL in a generated kernel.bzl (schema.bzl).\n"
        f"KERNEL_SCHEMA = {KERNEL_SCHEMA}\n\n"
        "# The tokens of relocated paths in KERNEL.\n"
        f'SRC = "{SRC}"\n'
        f'OBJ = "{OBJ}"\n\n'
        "# Every action's mnemonic.\n"
        f"MNEMONIC = struct(\n{fields})\n")


def main(argv: list[str]) -> int:
    if argv[1:] != ["--write"]:
        print("usage: python3 -m tools.kthinlto.contract --write", file=sys.stderr)
        return 2
    tmp = BZL + ".tmp"
    with open(tmp, "w") as f:
        f.write(bzl_text())
    os.replace(tmp, BZL)
    print(f"wrote {BZL}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
