"""Modules phase: the loadable modules (.ko) from the modules' link units.

Each module's ThinLTO phases are the link unit's own actions (FE, thin
link, BE, relocatable link and objtool: link_units.bzl).  What Kbuild does
after them, modpost against vmlinux.o's exports, the .mod.c compiles, the
.ko links and modules_install, is one Kbuild hand-off action
(kbuild_tail.bzl) over the Bazel-built module objects: modpost reads every
module at once.

Targets: NAME (the modules as `make modules_install` lays them out:
lib/modules/<release>/kernel/..., modules.order, modules.builtin and, with
the host's depmod, modules.dep) and one per module, named by its path
(fs/fuse/fuse.ko).
"""

load(":kbuild_tail.bzl", "KBUILD_TAIL_ATTRS", "KBUILD_TAIL_TOOLCHAINS", "kbuild_tail")
load(":schema.bzl", "decode")

def _kernel_modules_impl(ctx):
    if not ctx.attr.modules:
        fail("kthinlto: %s: this kernel has no modules (CONFIG_MODULES is not set, or no option is =m); declare a config with modules" % ctx.label)
    if len(ctx.attr.modules) != len(ctx.files.units):
        fail("kthinlto: %s: %d modules but %d unit outputs" % (ctx.label, len(ctx.attr.modules), len(ctx.files.units)))
    tree = ctx.actions.declare_directory(ctx.attr.name + "/install")
    kos = {ko: ctx.actions.declare_file(ctx.attr.name + "/" + ko) for ko in ctx.attr.modules}
    places = [
        ("vmlinux.o", ctx.file.vmlinux_o),
        # depmod checks the modules' symbols against vmlinux's.
        ("System.map", ctx.file.system_map),
    ]
    for ko, unit in zip(ctx.attr.modules, ctx.files.units):
        places.append((ko[:-len(".ko")] + ".o", unit))
    kbuild_tail(
        ctx,
        # modules.builtin from vmlinux.o first: modules_install copies it.
        ["modules.builtin", "modules", "modules_install"],
        places = places,
        takes = [(ko, f) for ko, f in kos.items()],
        dirs = [(".install", tree)],
        mnemonic = "KbuildModules",
        what = "Linking %d modules with Kbuild's modpost and modfinal" % len(kos),
    )
    return [
        DefaultInfo(files = depset([tree])),
        OutputGroupInfo(**{ko: depset([f]) for ko, f in kos.items()}),
    ]

kernel_modules_rule = rule(
    implementation = _kernel_modules_impl,
    doc = "The modules (.ko) and their modules_install tree, by Kbuild's modpost, modfinal and modules_install.",
    attrs = dict(
        KBUILD_TAIL_ATTRS,
        modules = attr.string_list(doc = "The modules, objtree-relative (fs/fuse/fuse.ko), in modules.order."),
        system_map = attr.label(allow_single_file = True, mandatory = True, doc = "vmlinux's System.map (for depmod)."),
        units = attr.label_list(allow_files = [".o"], doc = "Each module's linked object, in the order of `modules`."),
        vmlinux_o = attr.label(allow_single_file = True, mandatory = True, doc = "The final link's vmlinux.o (its exports, for modpost)."),
    ),
    toolchains = KBUILD_TAIL_TOOLCHAINS,
)

def kernel_modules(name, kernel, vmlinux_o, system_map, objtree, srcs):
    """The modules of a translated kernel: NAME, and a target per module.

    Args:
      name: the target of every module, installed (`modules`).
      kernel: the KERNEL dict of the generated kernel.bzl.
      vmlinux_o: the final link's vmlinux.o.
      system_map: vmlinux's System.map.
      objtree: the translated object tree (labels).
      srcs: the source files Kbuild reads for these steps (labels), besides
        the Kconfig files.
    """
    data = decode(kernel)
    units = [u for u in data.units if u.module]
    kernel_modules_rule(
        name = name,
        arch = data.config["arch"],
        build_env = data.build_env,
        modules = [u.module for u in units],
        objtree = objtree,
        srcarch = data.config["srcarch"],
        srcs = srcs + data.kconfig_files,
        system_map = system_map,
        units = [":" + u.target for u in units],
        vmlinux_o = vmlinux_o,
    )
    for u in units:
        native.filegroup(
            name = u.module,
            srcs = [":" + name],
            output_group = u.module,
        )
