"""Helpers shared by the phase rules."""

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

def expand(flag, root):
    """Turns the translator's %{src}/%{obj} tokens into execroot paths.

    Args:
      flag: one flag as the translator wrote it.
      root: the kernel repository's execroot-relative directory.

    Returns:
      The flag naming paths relative to the execroot, never the host.
    """
    return flag.replace("%{src}", root + "/src").replace("%{obj}", root + "/obj")

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

def dir_of(file, path):
    """The directory prefix of `file` under which it is named `path`.

    Args:
      file: a File.
      path: its name under its target's directory (kernel/sys.o).

    Returns:
      The prefix, ending in /.
    """
    if not file.path.endswith("/" + path):
        fail("%s is not named %s under its target's directory" % (file.path, path))
    return file.path[:-len(path)]
