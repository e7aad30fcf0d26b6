"""What the translator and the rules agree on.

Generated from tools/kthinlto/contract.py by `python3 -m
tools.kthinlto.contract --write`; do not edit (tests/unit/test_contract.py
fails if this file is not what it writes).
"""

# The version of KERNEL in a generated kernel.bzl (schema.bzl).
KERNEL_SCHEMA = 6

# The tokens of relocated paths in KERNEL.
SRC = "%{src}"
OBJ = "%{obj}"

# Every action's mnemonic.
MNEMONIC = struct(
    THINLTO_COMPILE = "ThinLtoCompile",
    NATIVE_COMPILE = "NativeCompile",
    INITCALL_SCAN = "InitcallScan",
    INITCALL_ORDER = "InitcallOrder",
    THINLTO_INDEX = "ThinLtoIndex",
    THINLTO_BACKEND = "ThinLtoBackend",
    RELOCATABLE_LINK = "RelocatableLink",
    SYMBOL_ORDER = "SymbolOrder",
    KBUILD_TAIL = "KbuildTail",
    MODPOST = "Modpost",
    MODULE_INFO_COMPILE = "ModuleInfoCompile",
    MODULE_LINK = "ModuleLink",
    MODULES_BUILTIN = "ModulesBuiltin",
    MODULES_INSTALL = "ModulesInstall",
)
