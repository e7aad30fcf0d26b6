"""The toolchain rule: clang, ld.lld, llvm-ar and llvm-nm, and the Python
interpreter of the action tools."""

load(":providers.bzl", "ActionPythonInfo", "LlvmToolchainInfo")

def _python_info(ctx):
    interpreter = ctx.executable.python

    # @kthinlto_python lays out bin/python3, lib/pythonX.Y and shlib/.
    home = interpreter.dirname.rpartition("/bin")[0]
    libs = {f.dirname: None for f in ctx.files.python_runtime if f.dirname.endswith("/shlib")}.keys()
    env = {"PYTHONHOME": home}
    if libs:
        env["LD_LIBRARY_PATH"] = ":".join(sorted(libs))
    return ActionPythonInfo(
        interpreter = interpreter,
        files = depset([interpreter], transitive = [depset(ctx.files.python_runtime)]),
        env = env,
        flags = ["-B", "-S"],
    )

def _llvm_toolchain_impl(ctx):
    lib_dirs = {f.dirname: None for f in ctx.files.runtime}.keys()
    info = LlvmToolchainInfo(
        clang = ctx.executable.clang,
        ld_lld = ctx.executable.ld_lld,
        llvm_ar = ctx.executable.llvm_ar,
        llvm_nm = ctx.executable.llvm_nm,
        version = ctx.attr.version,
        files = depset(
            [ctx.executable.clang, ctx.executable.ld_lld, ctx.executable.llvm_ar, ctx.executable.llvm_nm],
            transitive = [depset(ctx.files.runtime)],
        ),
        # Execroot-relative, so no host path reaches an action's env.
        env = {"LD_LIBRARY_PATH": ":".join(sorted(lib_dirs))} if lib_dirs else {},
    )
    return [platform_common.ToolchainInfo(llvm = info, python = _python_info(ctx))]

llvm_toolchain = rule(
    implementation = _llvm_toolchain_impl,
    doc = "Declares the LLVM tools and their shared libraries as action inputs.",
    attrs = {
        "clang": attr.label(allow_single_file = True, executable = True, cfg = "exec", mandatory = True),
        "ld_lld": attr.label(allow_single_file = True, executable = True, cfg = "exec", mandatory = True),
        "llvm_ar": attr.label(allow_single_file = True, executable = True, cfg = "exec", mandatory = True),
        "llvm_nm": attr.label(allow_single_file = True, executable = True, cfg = "exec", mandatory = True),
        "version": attr.string(mandatory = True, doc = "The LLVM major version (Kbuild's LLVM=-N)."),
        "runtime": attr.label_list(allow_files = True, cfg = "exec", doc = "Shared libraries the tools load."),
        "python": attr.label(allow_single_file = True, executable = True, cfg = "exec", mandatory = True, doc = "The action tools' python3 (@kthinlto_python//:bin/python3)."),
        "python_runtime": attr.label_list(allow_files = True, cfg = "exec", doc = "Its standard library and shared libraries."),
    },
)
