"""WORKSPACE set-up: `load` this and call kthinlto_dependencies()."""

load("//rules/private:repositories.bzl", "kernel_repository", "llvm_repository")

def kthinlto_dependencies(llvm_version = "19"):
    """Declares @kthinlto_llvm (host LLVM) and @kernel (the translated kernel).

    Args:
      llvm_version: the Debian LLVM major version (clang-N, ld.lld-N).
    """
    llvm_repository(name = "kthinlto_llvm", version = llvm_version)
    kernel_repository(name = "kernel")
