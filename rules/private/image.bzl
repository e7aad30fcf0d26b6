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

load(":common.bzl", "TOOLCHAIN_TYPE", "kernel_root", "llvm_toolchain")
load(":schema.bzl", "decode")

def _tail(ctx, target, places, takes, what):
    tc = llvm_toolchain(ctx)
    root = kernel_root(ctx)
    args = ctx.actions.args()
    args.add(root + "/src")
    args.add(root + "/obj")
    args.add(ctx.attr.arch)
    args.add(ctx.attr.srcarch)
    args.add("-" + tc.version)
    args.add(target)
    args.add(takes[0][1].path + ".work")
    for rel, f in places:
        args.add("place:%s=%s" % (rel, f.path))
    for rel, f in takes:
        args.add("take:%s=%s" % (rel, f.path))
    env = {"PATH": "/bin:/usr/bin:/usr/local/bin", "LC_ALL": "C"}
    env.update(ctx.attr.build_env)
    ctx.actions.run(
        executable = ctx.executable._kbuild_tail,
        arguments = [args],
        # The LLVM tools are inputs so that the cache key follows them;
        # make finds the same ones as clang-N etc. on PATH, as Kbuild does.
        inputs = depset(
            ctx.files.objtree + ctx.files.srcs + [f for _, f in places],
            transitive = [tc.files],
        ),
        outputs = [f for _, f in takes],
        env = env,
        # Local (remotely cached): one serial step that runs the host's
        # make, perl and compressors, which are not inputs.
        execution_requirements = {"no-remote-exec": "1"},
        mnemonic = "KbuildTail",
        progress_message = what,
    )

def _kernel_vmlinux_impl(ctx):
    vmlinux = ctx.actions.declare_file("image/vmlinux")
    system_map = ctx.actions.declare_file("image/System.map")
    utsversion = ctx.actions.declare_file("image/utsversion.h")
    _tail(
        ctx,
        "vmlinux",
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

_COMMON_ATTRS = {
    "arch": attr.string(mandatory = True, doc = "Kernel ARCH."),
    "srcarch": attr.string(mandatory = True, doc = "Kbuild's SRCARCH (the directory under arch/)."),
    "build_env": attr.string_dict(doc = "KBUILD_BUILD_* as the translation pinned them."),
    "objtree": attr.label_list(allow_files = True, doc = "The translated object tree."),
    "srcs": attr.label_list(allow_files = True, doc = "Source files Kbuild reads for these steps."),
    "vmlinux_o": attr.label(allow_single_file = True, mandatory = True, doc = "The final link's vmlinux.o."),
    "_kbuild_tail": attr.label(default = "//rules/private:kbuild_tail.sh", allow_single_file = True, executable = True, cfg = "exec"),
}

kernel_vmlinux = rule(
    implementation = _kernel_vmlinux_impl,
    doc = "vmlinux (and System.map, output group system_map) from vmlinux.o, by Kbuild's link-vmlinux.sh.",
    attrs = _COMMON_ATTRS,
    toolchains = [TOOLCHAIN_TYPE],
)

def _kernel_boot_image_impl(ctx):
    image = ctx.actions.declare_file("image/" + ctx.attr.image)
    _tail(
        ctx,
        ctx.attr.image,
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
    toolchains = [TOOLCHAIN_TYPE],
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
