"""WORKSPACE set-up: `load` this and call kthinlto_dependencies()."""

load("//rules/private:repositories.bzl", "kernel_repository", "llvm_repository")

def kthinlto_dependencies():
    """Declares @kthinlto_llvm (host LLVM) and @kernel (the translated kernel).

    The LLVM version is toolchains/LLVM_VERSION's, as the translator's.
    """
    llvm_repository(name = "kthinlto_llvm")
    kernel_repository(name = "kernel")
