"""Providers that carry a kernel through the four ThinLTO phases, and the
object record they hold."""

def kernel_object(path, bitcode = None, native = None, be_flags = [], lazy = False):
    """The record of one object: the only constructor of it.

    Args:
      path: (string) objtree-relative, e.g. kernel/sys.o: the object's key
        and its ThinLTO module name.
      bitcode: (File or None) the FE's ThinLTO bitcode.
      native: (File or None) machine code: from the FE for assembly,
        -fno-lto and prebuilt objects, from the BE for bitcode.
      be_flags: (list of string) Kbuild's flags minus the preprocessor
        ones, for the BE compile, paths expanded to execroot-relative ones.
      lazy: (bool) in a link unit: a lib.a member, linked only on demand.
        The FE's records are never lazy; a unit's members are.

    Returns:
      A struct with exactly these fields.
    """
    return struct(path = path, bitcode = bitcode, native = native, be_flags = be_flags, lazy = lazy)

KernelObjectsInfo = provider(
    doc = "Objects after one phase: every object (the FE), or one link " +
          "unit's members in its link order (after the BE).",
    fields = {
        "objects": "(list of kernel_object records) in link order",
    },
)

ThinLtoIndexInfo = provider(
    doc = "What the thin link wrote for each bitcode object.",
    fields = {
        "bundles": "(dict of string to File) object path -> its import " +
                   "bundle, a tar holding PATH.thinlto.bc (its index), " +
                   "PATH.imports (the modules the index imports from) and " +
                   "the bitcode of exactly those modules, each under its " +
                   "module name (its objtree path, e.g. lib/string.o)",
    },
)

LinkerScriptInfo = provider(
    doc = "A linker script the rules generate for a link unit, as Kbuild does.",
    fields = {
        "script": "(File) the script, passed to the link with -T " +
                  "(Kbuild's .tmp_initcalls.lds orders initcalls for Clang LTO)",
    },
)

LlvmToolchainInfo = provider(
    doc = "The LLVM tools that build the kernel, as action inputs.",
    fields = {
        "clang": "(File) the clang driver",
        "ld_lld": "(File) ld.lld",
        "llvm_ar": "(File) llvm-ar",
        "llvm_nm": "(File) llvm-nm",
        "version": "(string) the LLVM major version, as Kbuild's LLVM=-N names the host's tools",
        "files": "(depset of File) every file the tools need at run time: " +
                 "the tools and the shared libraries they load",
        "env": "(dict of string to string) the environment of every action " +
               "that runs the tools: LD_LIBRARY_PATH, the execroot-relative " +
               "directory of those libraries (the tools' RUNPATH " +
               "$ORIGIN/../lib finds only their direct dependencies)",
    },
)

ActionPythonInfo = provider(
    doc = "The interpreter of the action tools (tools/kthinlto/actions), as inputs.",
    fields = {
        "interpreter": "(File) python3, linked from the host by @kthinlto_python",
        "files": "(depset of File) the interpreter, the standard library it " +
                 "reads and the shared libraries it loads",
        "env": "(dict of string to string) PYTHONHOME, the execroot-relative " +
               "root of that standard library (so it reads no other), and " +
               "LD_LIBRARY_PATH, the directory of those libraries",
        "flags": "(list of string) interpreter flags before the script: -B (no " +
                 "bytecode written into the inputs), -S " +
                 "(no site packages)",
    },
)
