"""Kernel sources: the pinned default tarball, extraction, sanity checks."""

import hashlib
import logging
import os
import shutil
import tarfile

from tools.kthinlto.records import TranslationError

DEFAULT_TARBALL = "/usr/src/linux-source-6.1.tar.xz"
# Debian bookworm's linux-source-6.1 6.1.192-2.
DEFAULT_SHA256 = "4d415b3d364834fd818270e88813e90323bbfce4f519a0e6bd4940ddcd7df693"


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_kernel_tree(path: str, arch: str) -> None:
    for needed in ("Makefile", "Kbuild", "scripts/Makefile.build",
                   "scripts/generate_initcall_order.pl", f"arch/{_srcarch(arch)}"):
        if not os.path.exists(os.path.join(path, needed)):
            raise TranslationError(
                f"{path} is not a Linux kernel source tree with LTO support "
                f"({needed} missing); pass --source=<kernel tree or tarball>")
    if os.path.exists(os.path.join(path, ".config")):
        raise TranslationError(
            f"{path} has been configured in place (.config); run "
            f"`make -C {path} mrproper` first: kthinlto builds out of tree")


def _srcarch(arch: str) -> str:
    return "x86" if arch in ("x86_64", "i386", "x86") else arch


def unpack(tarball: str, expected: str | None, cache_dir: str) -> str:
    """Extracts a verified tarball once; returns the tree inside it."""
    if not os.path.isfile(tarball):
        raise TranslationError(f"{tarball}: no such file; pass --source")
    digest = sha256_file(tarball)
    if expected and digest != expected:
        raise TranslationError(
            f"{tarball}: sha256 {digest} is not the expected {expected}; "
            "pass --sha256 for another tarball")
    dest = os.path.join(cache_dir, "src", digest[:16])
    if not os.path.isdir(dest):
        logging.info("extracting %s", tarball)
        tmp = dest + f".tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="fully_trusted")
        os.rename(tmp, dest)
    entries = [e for e in os.listdir(dest) if not e.startswith(".")]
    return os.path.join(dest, entries[0]) if len(entries) == 1 else dest
