"""Bzlmod set-up: the module extension behind MODULE.bazel's use_repo."""

load("//rules/private:repositories.bzl", "kernel_repository", "llvm_repository")

def _kthinlto_impl(
        module_ctx):  # @unused: no tags; one kernel, one LLVM.
    llvm_repository(name = "kthinlto_llvm")
    kernel_repository(name = "kernel")

kthinlto = module_extension(implementation = _kthinlto_impl)
