"""WORKSPACE set-up: `load` this, call kthinlto_dependencies(), and declare
each kernel with kthinlto_kernel()."""

load("//rules/private:repositories.bzl", "kernel_repository", "llvm_repository", "python_repository")

def kthinlto_dependencies():
    """Declares the host's LLVM and the action tools' Python as repositories.

    They are @kthinlto_llvm and @kthinlto_python.

    Register their toolchain after it:
    register_toolchains("@kthinlto//toolchains:all").  The LLVM version is
    toolchains/LLVM_VERSION's, as the translator's.
    """
    llvm_repository(name = "kthinlto_llvm")
    python_repository(name = "kthinlto_python")

def kthinlto_kernel(name, declaration, **kwargs):
    """Declares the kernel repository @<name> from a declaration file.

    Args:
      name: the repository; @kernel is the one behind //:vmlinux_o.
      declaration: the label of its kernels/<name>.json (written by
        ./kthin configure; tools/kthinlto/declaration.py says its fields).
      **kwargs: timeout (seconds the translation may take).
    """
    kernel_repository(name = name, declaration = declaration, **kwargs)
