"""Bzlmod set-up: the module extension behind MODULE.bazel's use_repo.

    kthinlto = use_extension("@kthinlto//rules:extensions.bzl", "kthinlto")
    kthinlto.kernel(name = "kernel", declaration = "//kernels:kernel.json")
    use_repo(kthinlto, "kernel", "kthinlto_llvm", "kthinlto_python")
"""

load("//rules/private:repositories.bzl", "kernel_repository", "llvm_repository", "python_repository")

_kernel = tag_class(
    doc = "A declared kernel: the repository @<name> from its declaration file.",
    attrs = {
        "name": attr.string(mandatory = True, doc = "The repository; @kernel is //:vmlinux_o's."),
        "declaration": attr.label(mandatory = True, doc = "Its kernels/<name>.json."),
        "timeout": attr.int(default = 7200, doc = "Seconds the translation may take."),
    },
)

def _kthinlto_impl(module_ctx):
    llvm_repository(name = "kthinlto_llvm")
    python_repository(name = "kthinlto_python")
    declared = {}
    for mod in module_ctx.modules:
        # The ruleset's own test kernels are dev dependencies (MODULE.bazel):
        # Bazel passes them only when it is the root module.
        for kernel in mod.tags.kernel:
            if kernel.name in declared:
                fail("kthinlto: kernel %s is declared by both %s and %s; give one of them another name" % (
                    kernel.name,
                    declared[kernel.name],
                    mod.name,
                ))
            declared[kernel.name] = mod.name
            kernel_repository(name = kernel.name, declaration = kernel.declaration, timeout = kernel.timeout)

kthinlto = module_extension(
    implementation = _kthinlto_impl,
    tag_classes = {"kernel": _kernel},
)
