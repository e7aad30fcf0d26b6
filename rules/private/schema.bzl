"""The version of the data the translator writes and the rules read.

tools/kthinlto/emit.py reads KERNEL_SCHEMA from this file and writes it into
every kernel.bzl; the rules refuse a kernel.bzl of another version.  Raise it
whenever the shape of KERNEL changes.
"""

# 2: objects may be prebuilt; config carries srcarch, image and image_path.
KERNEL_SCHEMA = 2

def check_schema(kernel):
    """Fails, naming the fix, unless KERNEL is of the version these rules read.

    Args:
      kernel: the KERNEL dict of a generated kernel.bzl.
    """
    made = kernel.get("schema", 1)
    if made != KERNEL_SCHEMA:
        fail("kthinlto: this kernel was translated by a%s translator (kernel.bzl schema %s; these rules read %s): run ./kthin configure again" % (
            "n older" if made < KERNEL_SCHEMA else " newer",
            made,
            KERNEL_SCHEMA,
        ))
