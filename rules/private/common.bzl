"""Helpers shared by the phase rules."""

load(":contract.bzl", "OBJ", "SRC")

# The canonical name, so that it means this repository from any repository
# that instantiates the rules (Bazel 4 wants a string in rule(toolchains)).
TOOLCHAIN_TYPE = str(Label("//toolchains:toolchain_type"))

def llvm_toolchain(ctx):
    """The LlvmToolchainInfo of the resolved toolchain.

    Args:
      ctx: the rule context.

    Returns:
      LlvmToolchainInfo.
    """
    return ctx.toolchains[TOOLCHAIN_TYPE].llvm

def action_python(ctx):
    """The ActionPythonInfo of the resolved toolchain.

    Args:
      ctx: the rule context.

    Returns:
      ActionPythonInfo.
    """
    return ctx.toolchains[TOOLCHAIN_TYPE].python

def merged_env(*envs):
    """Action environments merged; LD_LIBRARY_PATH lists are joined.

    Args:
      *envs: dicts of string to string.

    Returns:
      One dict.
    """
    out = {}
    for env in envs:
        for key, value in env.items():
            if key == "LD_LIBRARY_PATH" and out.get(key):
                value = out[key] + ":" + value
            out[key] = value
    return out

def expand(flag, root):
    """Turns the translator's %{src}/%{obj} tokens into execroot paths.

    Args:
      flag: one flag as the translator wrote it.
      root: the kernel repository's execroot-relative directory.

    Returns:
      The flag naming paths relative to the execroot, never the host.
    """
    return flag.replace(SRC, root + "/src").replace(OBJ, root + "/obj")

def kernel_root(ctx):
    """Execroot-relative directory of the kernel repository (or package).

    Args:
      ctx: the rule context of a rule instantiated in the kernel package.

    Returns:
      A path like external/kernel, where src/ and obj/ live.
    """
    root = ctx.label.workspace_root
    if ctx.label.package:
        root = (root + "/" if root else "") + ctx.label.package
    return root

def common_dir(files, names, what):
    """The directory under which every file is named by its name.

    Args:
      files: list of File.
      names: list of string, each file's name under its target's directory
        (kernel/sys.o).
      what: who needs them together, for the error message.

    Returns:
      The prefix, ending in /, shared by all of them.
    """
    prefix = None
    for file, name in zip(files, names):
        if not file.path.endswith("/" + name):
            fail("%s is not named %s under its target's directory" % (file.path, name))
        here = file.path[:-len(name)]
        if prefix != None and here != prefix:
            fail("%s: %s wants every file in %s" % (file.path, what, prefix))
        prefix = here
    return prefix
