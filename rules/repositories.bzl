"""WORKSPACE set-up: `load` this, call kthinlto_dependencies(), and declare
each kernel with kthinlto_kernel()."""

load("//rules/private:repositories.bzl", "kernel_repository", "llvm_repository", "python_repository")

def kthinlto_dependencies():
    """Declares @kthinlto_llvm (the host's LLVM) and @kthinlto_python (the
    interpreter of the action tools), and registers the toolchain.

    The LLVM version is toolchains/LLVM_VERSION's, as the translator's.
    """
    llvm_repository(name = "kthinlto_llvm")
    python_repository(name = "kthinlto_python")
    native.register_toolchains("@kthinlto//toolchains:all")

def kthinlto_kernel(name, declaration, **kwargs):
    """Declares the kernel repository @<name> from a declaration file.

    Args:
      name: the repository; @kernel is the one behind //:vmlinux_o.
      declaration: the label of its kernels/<name>.json (written by
        ./kthin configure; tools/kthinlto/declaration.py says its fields).
      **kwargs: timeout (seconds the translation may take).
    """
    kernel_repository(name = name, declaration = declaration, **kwargs)
