"""The macro that wires the four phases for one translated kernel."""

load(":backend.bzl", "kernel_backend")
load(":final_link.bzl", "kernel_final_link", "kernel_initcall_order")
load(":frontend.bzl", "kernel_frontend")
load(":schema.bzl", "check_schema")
load(":thin_link.bzl", "kernel_thin_link")

def kernel_vmlinux_o(name, kernel, visibility = None):
    """Builds vmlinux.o of a kernel translated by tools/kthinlto/configure.py.

    Targets: NAME (vmlinux.o), NAME_fe (FE outputs), NAME_thin_link (indexes
    and import lists), NAME_be (BE outputs), NAME_initcalls.

    Args:
      name: the vmlinux.o target.
      kernel: the KERNEL dict of the generated kernel.bzl.
      visibility: of NAME.
    """
    check_schema(kernel)
    kernel_frontend(
        name = name + "_fe",
        srcs = kernel["files"],
        # A JSON string since the translation writes it so (analysis is
        # faster); trees translated before still hold a list.
        objects = kernel["objects"] if type(kernel["objects"]) == "string" else json.encode(kernel["objects"]),
        flagsets = json.encode(kernel["flagsets"]),
    )
    kernel_initcall_order(
        name = name + "_initcalls",
        objects = name + "_fe",
        enabled = kernel["initcalls"] == 1,
    )
    kernel_thin_link(
        name = name + "_thin_link",
        objects = name + "_fe",
        ldflags = kernel["ldflags"],
    )
    kernel_backend(
        name = name + "_be",
        objects = name + "_fe",
        index = name + "_thin_link",
    )
    kernel_final_link(
        name = name,
        objects = name + "_be",
        initcalls = name + "_initcalls",
        ldflags = kernel["ldflags"],
        objtool = "obj/tools/objtool/objtool" if kernel["objtool"] == 1 else None,
        objtool_args = kernel["objtool_args"],
        visibility = visibility,
    )
