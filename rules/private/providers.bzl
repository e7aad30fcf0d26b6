"""Providers that carry a kernel through the four ThinLTO phases."""

KernelObjectsInfo = provider(
    doc = "The objects of vmlinux.o in Kbuild's link order, after one phase.",
    fields = {
        "objects": "(list of struct) one per object, in link order; each has " +
                   "path (string: objtree-relative, e.g. kernel/sys.o), " +
                   "bitcode (File or None: the FE's ThinLTO bitcode), " +
                   "native (File or None: machine code, from FE for " +
                   "assembly and -fno-lto files, from BE for bitcode), " +
                   "lazy (bool: a lib.a member, linked only on demand), " +
                   "be_flags (list of string: Kbuild's flags minus the " +
                   "preprocessor ones, for the BE compile, with paths " +
                   "expanded to execroot-relative ones)",
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

InitcallOrderInfo = provider(
    doc = "Kbuild's initcall-ordering linker script for Clang LTO.",
    fields = {
        "lds": "(File or None) .tmp_initcalls.lds, or None if Kbuild uses none",
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
        "flags": "(list of string) interpreter flags before the script: -S " +
                 "(no site packages)",
    },
)
