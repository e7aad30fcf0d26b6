"""The macro that wires a translated kernel: its objects, compiled once, and
per link unit the thin link, backends, generated scripts and the
relocatable link.

Targets: NAME, i.e. `objects` (every object, FE); one per object linked in a
unit, named by its path (kernel/sys.o: that object's FE compile alone, as
`make kernel/sys.o`); and for a unit named vmlinux.o:
vmlinux_o (the linked unit), vmlinux_o_members (its members in link order),
vmlinux_o_thin_link (import bundles), vmlinux_o_be (BE outputs) and
vmlinux_o_initcalls (the initcall script, if the unit takes it).
"""

load(":backend.bzl", "kernel_backend")
load(":frontend.bzl", "kernel_frontend")
load(":initcalls.bzl", "kernel_initcall_order")
load(":providers.bzl", "KernelObjectsInfo", "kernel_object")
load(":relocatable_link.bzl", "kernel_relocatable_link")
load(":schema.bzl", "decode")
load(":thin_link.bzl", "kernel_thin_link")

def _kernel_unit_members_impl(ctx):
    by_path = {o.path: o for o in ctx.attr.objects[KernelObjectsInfo].objects}
    members = []
    for paths, lazy in ((ctx.attr.whole, False), (ctx.attr.lazy, True)):
        for path in paths:
            o = by_path.get(path)
            if not o:
                fail("kthinlto: %s links %s, which is no object of the kernel" % (ctx.label.name, path))
            members.append(kernel_object(path = o.path, bitcode = o.bitcode, native = o.native, be_flags = o.be_flags, lazy = lazy))
    return [
        DefaultInfo(files = depset([o.bitcode or o.native for o in members])),
        KernelObjectsInfo(objects = members),
    ]

kernel_unit_members = rule(
    implementation = _kernel_unit_members_impl,
    doc = "A link unit's members, in link order, from every object's FE record.",
    attrs = {
        "lazy": attr.string_list(doc = "Members linked on demand, in link order."),
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True),
        "whole": attr.string_list(doc = "Members linked whole, in link order."),
    },
)

def kernel_link_unit(name, unit, objects, visibility = None):
    """One link unit: members, generated scripts, thin link, BE, link.

    Args:
      name: the linked unit's target (decode() names it: vmlinux_o); the
        phases' targets are NAME_members, NAME_initcalls, NAME_thin_link
        and NAME_be.
      unit: a struct of decode()'s units.
      objects: the FE target (every object).
      visibility: of the linked unit.
    """
    kernel_unit_members(
        name = name + "_members",
        objects = objects,
        whole = unit.whole,
        lazy = unit.lazy,
    )
    scripts = []
    for script in unit.scripts:
        if script != "initcalls":
            fail("kthinlto: %s takes linker script %s, which these rules do not generate" % (unit.name, script))
        kernel_initcall_order(
            name = name + "_initcalls",
            objects = name + "_members",
        )
        scripts.append(name + "_initcalls")
    kernel_thin_link(
        name = name + "_thin_link",
        objects = name + "_members",
        ldflags = unit.ldflags,
    )
    kernel_backend(
        name = name + "_be",
        objects = name + "_members",
        index = name + "_thin_link",
    )
    kernel_relocatable_link(
        name = name,
        out = unit.name,
        objects = name + "_be",
        scripts = scripts,
        ldflags = unit.ldflags,
        post_link = unit.post_link_tool,
        post_link_args = unit.post_link_args,
        symbol_order = bool(unit.module),
        visibility = visibility,
    )

def kernel_link_units(name, kernel, visibility = None):
    """Every object and every link unit of a translated kernel.

    The kernel is one that tools/kthinlto/configure.py translated.

    Args:
      name: the target of every object, compiled once (FE): `objects`.
      kernel: the KERNEL dict of the generated kernel.bzl.
      visibility: of the linked units.
    """
    data = decode(kernel)
    kernel_frontend(
        name = name,
        srcs = data.files,
        objects = data.objects_json,
        flagsets = data.flagsets_json,
    )
    paths = {}
    for unit in data.units:
        kernel_link_unit(name = unit.target, unit = unit, objects = ":" + name, visibility = visibility)
        for path in unit.whole + unit.lazy:
            paths[path] = True
    for path in paths:
        native.filegroup(
            name = path,
            srcs = [":" + name],
            output_group = path,
            visibility = visibility,
        )
