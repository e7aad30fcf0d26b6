"""Image phase: vmlinux and the boot image (bzImage, Image) from the project's own vmlinux.o.

What Kbuild does after vmlinux.o is short, serial and architecture-specific
(scripts/link-vmlinux.sh: kallsyms passes, sorttable, System.map; then the
decompressor, the setup code and the compressed image).  Each step is run by
Kbuild's own rules, not re-implemented: one action per target runs `make`
in a writable copy of the translated object tree, with the final link's
vmlinux.o (and, for bzImage, the vmlinux action's vmlinux) placed in it and
taken as built (`make -o`).  The actions declare the object tree and the
source files Kbuild reads for these steps, run sandboxed and locally, and
are cached like every other action.
"""

load(":kbuild_tail.bzl", "KBUILD_TAIL_ATTRS", "KBUILD_TAIL_TOOLCHAINS", "kbuild_tail")
load(":schema.bzl", "decode")

def _kernel_vmlinux_impl(ctx):
    vmlinux = ctx.actions.declare_file("image/vmlinux")
    system_map = ctx.actions.declare_file("image/System.map")
    utsversion = ctx.actions.declare_file("image/utsversion.h")
    kbuild_tail(
        ctx,
        ["vmlinux"],
        places = [("vmlinux.o", ctx.file.vmlinux_o)],
        takes = [
            ("vmlinux", vmlinux),
            ("System.map", system_map),
            # Written by link-vmlinux.sh, read by the image's setup code.
            ("include/generated/utsversion.h", utsversion),
        ],
        what = "Linking vmlinux with Kbuild's link-vmlinux.sh",
    )
    return [
        DefaultInfo(files = depset([vmlinux])),
        OutputGroupInfo(
            system_map = depset([system_map]),
            utsversion = depset([utsversion]),
        ),
    ]

_COMMON_ATTRS = dict(
    KBUILD_TAIL_ATTRS,
    vmlinux_o = attr.label(allow_single_file = True, mandatory = True, doc = "The final link's vmlinux.o."),
)

kernel_vmlinux = rule(
    implementation = _kernel_vmlinux_impl,
    doc = "vmlinux (and System.map, output group system_map) from vmlinux.o, by Kbuild's link-vmlinux.sh.",
    attrs = _COMMON_ATTRS,
    toolchains = KBUILD_TAIL_TOOLCHAINS,
)

def _kernel_boot_image_impl(ctx):
    image = ctx.actions.declare_file("image/" + ctx.attr.image)
    kbuild_tail(
        ctx,
        [ctx.attr.image],
        places = [
            ("vmlinux.o", ctx.file.vmlinux_o),
            ("vmlinux", ctx.file.vmlinux),
            ("include/generated/utsversion.h", ctx.attr.vmlinux[OutputGroupInfo].utsversion.to_list()[0]),
        ],
        takes = [(ctx.attr.image_path, image)],
        what = "Building %s with Kbuild's arch/%s/boot" % (ctx.attr.image, ctx.attr.srcarch),
    )
    return [DefaultInfo(files = depset([image]))]

kernel_boot_image = rule(
    implementation = _kernel_boot_image_impl,
    doc = "The boot image (bzImage on x86, Image on arm64) from vmlinux, by Kbuild's arch/*/boot rules.",
    attrs = dict(
        _COMMON_ATTRS,
        image = attr.string(mandatory = True, doc = "Kbuild's boot image target (bzImage, Image)."),
        image_path = attr.string(mandatory = True, doc = "Where Kbuild writes it, objtree-relative."),
        vmlinux = attr.label(allow_single_file = True, mandatory = True),
    ),
    toolchains = KBUILD_TAIL_TOOLCHAINS,
)

def kernel_images(name, kernel, vmlinux_o, objtree, srcs):
    """The targets after vmlinux.o: NAME (vmlinux), System.map and the boot image.

    Args:
      name: the vmlinux target.
      kernel: the KERNEL dict of the generated kernel.bzl (its arch, boot
        image and pinned build stamp).
      vmlinux_o: the final link's vmlinux.o.
      objtree: the translated object tree (labels).
      srcs: the source files Kbuild reads for these steps (labels), besides
        the Kconfig files (KERNEL names them: include/config/auto.conf
        depends on them all).
    """
    data = decode(kernel)
    config = data.config
    common = {
        "arch": config["arch"],
        "build_env": data.build_env,
        "objtree": objtree,
        "srcarch": config["srcarch"],
        "srcs": srcs + data.kconfig_files,
        "vmlinux_o": vmlinux_o,
    }
    kernel_vmlinux(name = name, **common)
    native.filegroup(
        name = "System.map",
        srcs = [":" + name],
        output_group = "system_map",
    )
    if config["image"]:
        # Named as Kbuild names it: bzImage (x86), Image (arm64).
        kernel_boot_image(
            name = config["image"],
            image = config["image"],
            image_path = config["image_path"],
            vmlinux = ":" + name,
            **common
        )
