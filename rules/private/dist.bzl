"""Dist: the kernel's results copied out of bazel-bin, as Kleaf's dist does.

`bazel run //:dist -- DIR` (the root alias of @kernel//:dist) fills the new
or empty DIR with vmlinux, the boot image, System.map, .config, vmlinux.o,
compile_commands.json and, for a kernel with modules, `modules/`: the
modules_install tree (DIR/modules/lib/modules/<release>/...).
"""

load(":schema.bzl", "decode")

def _kernel_dist_impl(ctx):
    entries = [
        ("vmlinux", ctx.file.vmlinux),
        ("System.map", ctx.file.system_map),
        (".config", ctx.file.config),
        ("vmlinux.o", ctx.file.vmlinux_o),
        ("compile_commands.json", ctx.file.compile_commands),
    ]
    if ctx.attr.image:
        entries.append((ctx.attr.image.label.name, ctx.file.image))
    for f in ctx.files.modules:
        if f.is_directory:
            entries.append(("modules", f))
    launcher = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.expand_template(
        template = ctx.file._launcher,
        output = launcher,
        substitutions = {"@FILES@": "\n".join(["%s %s" % (name, f.short_path) for name, f in entries])},
        is_executable = True,
    )
    return [DefaultInfo(
        executable = launcher,
        runfiles = ctx.runfiles(files = [f for _, f in entries]),
    )]

kernel_dist_rule = rule(
    implementation = _kernel_dist_impl,
    doc = "`bazel run` it with a directory: the kernel's results copied there.",
    executable = True,
    attrs = {
        "compile_commands": attr.label(allow_single_file = True, mandatory = True),
        "config": attr.label(allow_single_file = True, mandatory = True, doc = "The translated .config."),
        "image": attr.label(allow_single_file = True, doc = "The boot image, if the architecture has one."),
        "modules": attr.label(doc = "The modules target (its install tree), if the kernel has modules."),
        "system_map": attr.label(allow_single_file = True, mandatory = True),
        "vmlinux": attr.label(allow_single_file = True, mandatory = True),
        "vmlinux_o": attr.label(allow_single_file = True, mandatory = True),
        "_launcher": attr.label(default = "//rules/private:dist.sh", allow_single_file = True),
    },
)

def kernel_dist(name, kernel):
    """The dist of a translated kernel: NAME.

    From the targets the generated BUILD file names by convention (vmlinux,
    System.map, the boot image, vmlinux_o, modules), its .config and its
    compile_commands.json.

    Args:
      name: the target (`dist`).
      kernel: the KERNEL dict of the generated kernel.bzl.
    """
    data = decode(kernel)
    kernel_dist_rule(
        name = name,
        compile_commands = "compile_commands.json",
        config = "obj/.config",
        image = ":" + data.config["image"] if data.config["image"] else None,
        modules = ":modules" if data.modules else None,
        system_map = ":System.map",
        vmlinux = ":vmlinux",
        vmlinux_o = ":vmlinux_o",
    )
