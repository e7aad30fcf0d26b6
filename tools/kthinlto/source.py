"""Kernel sources: pinned Debian packages, tarballs, extraction, sanity checks.

The pins (package, exact version, tarball sha256) are in sources.json beside
this file.  A pinned source is fetched as exactly that version with
`apt-get download` and its tarball taken out of the .deb into the cache,
whatever version of the package the host has installed (or none).

  # fetch the default pinned source (./kthin setup does this)
  python3 -m tools.kthinlto.source
  # fetch every pinned source, or one
  python3 -m tools.kthinlto.source --all
  python3 -m tools.kthinlto.source --package=linux-source-6.12
  # the sha256 of another version, to move a pin
  python3 -m tools.kthinlto.source --package=linux-source-6.1 --version=6.1.192-3
"""

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

from tools.kthinlto.arches import srcarch
from tools.kthinlto.records import TranslationError

PINS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sources.json")

@dataclasses.dataclass(frozen=True)
class Pin:
    """One pinned Debian kernel source package.

    package: Debian's package name (linux-source-6.1); version: its exact
    version; sha256: of the tarball it installs as /usr/src/<package>.tar.xz.
    """
    package: str
    version: str
    sha256: str

    @property
    def member(self) -> str:
        return f"./usr/src/{self.package}.tar.xz"


def read_pins(path: str = PINS_FILE) -> tuple[str, dict[str, Pin]]:
    """(default package, package -> Pin) from sources.json."""
    with open(path) as f:
        data = json.load(f)
    pins = {name: Pin(name, p["version"], p["sha256"])
            for name, p in data["packages"].items()}
    return data["default"], pins


def is_pin(source: str, path_root: str = "") -> bool:
    """Whether a source setting names a package pinned in sources.json
    rather than a tree or tarball (a path there, from path_root, wins)."""
    return (source in read_pins()[1] and not source.startswith(("//", "@"))
            and not os.path.exists(os.path.join(path_root, source)))


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _apt_download(package: str, version: str, into: str) -> str:
    """Downloads package=version's .deb into `into`; returns its path."""
    # apt drops to its _apt user for downloads: let it write here.
    os.chmod(into, 0o777)
    cmd = ["apt-get", "download", "-q", f"{package}={version}"]
    proc = subprocess.run(cmd, cwd=into, capture_output=True, text=True)
    if proc.returncode != 0 and os.geteuid() == 0:
        # A fresh machine may have no package lists yet, or old ones.
        subprocess.run(["apt-get", "update", "-q"], capture_output=True)
        proc = subprocess.run(cmd, cwd=into, capture_output=True, text=True)
    debs = [f for f in os.listdir(into) if f.endswith(".deb")]
    if proc.returncode != 0 or len(debs) != 1:
        why = (proc.stderr.strip().splitlines() or ["no .deb"])[-1]
        raise TranslationError(
            f"{package}={version} cannot be had from Debian's archive ({why}); "
            f"pin another version in {PINS_FILE} (python3 -m tools.kthinlto.source "
            f"--package={package} --version=V prints its sha256) or pass "
            "--source=<kernel tree or tarball>")
    return os.path.join(into, debs[0])


def download_tarball(package: str, version: str, out: str) -> str:
    """Writes package=version's kernel tarball to out; returns its sha256."""
    member = Pin(package, version, "").member
    with tempfile.TemporaryDirectory(prefix="kthinlto-deb-") as tmp:
        logging.info("downloading %s=%s from Debian's archive", package, version)
        deb = _apt_download(package, version, tmp)
        part = out + f".part{os.getpid()}"
        with open(part, "wb") as dst:
            dpkg = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb],
                                    stdout=subprocess.PIPE)
            with tarfile.open(fileobj=dpkg.stdout, mode="r|") as tar:
                for info in tar:
                    if info.name == member:
                        shutil.copyfileobj(tar.extractfile(info), dst)
                        break
                else:
                    raise TranslationError(f"{deb} holds no {member}")
            dpkg.stdout.close()
            dpkg.wait()
    digest = sha256_file(part)
    os.replace(part, out)
    return digest


def fetch(pin: Pin, cache_dir: str) -> str:
    """The pinned tarball in the cache (downloaded once); returns its path."""
    out = os.path.join(cache_dir, "sources", f"{pin.package}_{pin.version}.tar.xz")
    if os.path.isfile(out) and sha256_file(out) == pin.sha256:
        return out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    digest = download_tarball(pin.package, pin.version, out)
    if digest != pin.sha256:
        os.unlink(out)
        raise TranslationError(
            f"{pin.package}={pin.version}: its tarball's sha256 is {digest}, "
            f"not {pin.sha256} as {PINS_FILE} pins; fix the pin there")
    return out


def check_kernel_tree(path: str, arch: str, arch_setting: str = "--arch") -> None:
    for needed in ("Makefile", "Kbuild", "scripts/Makefile.build",
                   "scripts/generate_initcall_order.pl"):
        if not os.path.exists(os.path.join(path, needed)):
            raise TranslationError(
                f"{path} is not a Linux kernel source tree with LTO support "
                f"({needed} missing); pass --source=<kernel tree or tarball>")
    if not os.path.isdir(os.path.join(path, "arch", srcarch(arch))):
        known = sorted(d for d in os.listdir(os.path.join(path, "arch"))
                       if os.path.isdir(os.path.join(path, "arch", d)))
        raise TranslationError(
            f"{arch_setting}={arch}: no such architecture in {path} (no "
            f"arch/{srcarch(arch)}); it has: {', '.join(known)}")
    with open(os.path.join(path, "Makefile"), errors="replace") as f:
        makefile = f.read()
    if "\nvmlinux_o:" not in makefile:
        version = ".".join(
            line.split("=")[1].strip() for line in makefile.splitlines()[:4]
            if line.startswith(("VERSION", "PATCHLEVEL"))) or "?"
        raise TranslationError(
            f"{path}/Makefile: Linux {version} has no `vmlinux_o` target, which "
            "the translator runs to record Kbuild's objects (Linux 5.19 and "
            "newer have it; 6.1 and 6.12 are tested); pass --source=<a newer kernel>")
    if os.path.exists(os.path.join(path, ".config")):
        raise TranslationError(
            f"{path} has been configured in place (.config); run "
            f"`make -C {path} mrproper` first: kthinlto builds out of tree")


def _extracted(digest: str, cache_dir: str) -> str:
    """Where the tarball of that sha256 is extracted (renamed into place
    when whole: it exists only complete)."""
    return os.path.join(cache_dir, "src", digest[:16])


def unpack(tarball: str, expected: str | None, cache_dir: str,
           verified: bool = False) -> str:
    """Extracts a verified tarball once; returns the tree inside it.
    verified: the caller has just checked it has sha256 expected."""
    if not os.path.isfile(tarball):
        raise TranslationError(f"{tarball}: no such file; pass --source")
    digest = expected if verified and expected else sha256_file(tarball)
    if expected and digest != expected:
        raise TranslationError(
            f"{tarball}: sha256 {digest} is not the expected {expected}; "
            "pass --sha256 for another tarball")
    dest = _extracted(digest, cache_dir)
    if not os.path.isdir(dest):
        logging.info("extracting %s", tarball)
        tmp = dest + f".tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        # The tarball is verified (or the user's own); Pythons with
        # extraction filters (3.11.4+) are told so, Debian 12's 3.11.2 has none.
        trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, **trusted)
        os.rename(tmp, dest)
    return _tree_in(dest)


def _tree_in(dest: str) -> str:
    entries = [e for e in os.listdir(dest) if not e.startswith(".")]
    return os.path.join(dest, entries[0]) if len(entries) == 1 else dest


def pinned_tree(package: str, cache_dir: str) -> str:
    """The extracted tree of a pinned package (fetched and unpacked once).
    Its tarball is hashed once, when fetched or found before extraction;
    an extracted tree is named by the pinned sha256 and used as it is."""
    _, pins = read_pins()
    pin = pins[package]
    dest = _extracted(pin.sha256, cache_dir)
    if os.path.isdir(dest):
        return _tree_in(dest)
    return unpack(fetch(pin, cache_dir), pin.sha256, cache_dir, verified=True)


def default_cache_dir() -> str:
    return os.environ.get("KTHINLTO_CACHE") or os.path.expanduser("~/.cache/kthinlto")


def main(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", help="a pinned package (default: the default one)")
    parser.add_argument("--version", help="print the tarball sha256 of this version")
    parser.add_argument("--all", action="store_true", help="fetch every pinned source")
    parser.add_argument("--cache_dir", default=default_cache_dir())
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="kthinlto: %(message)s")
    default, pins = read_pins()
    try:
        if args.version:
            with tempfile.TemporaryDirectory(prefix="kthinlto-pin-") as tmp:
                package = args.package or default
                digest = download_tarball(package, args.version,
                                          os.path.join(tmp, "t.tar.xz"))
            print(f'"{package}": {{"version": "{args.version}", "sha256": "{digest}"}}')
            return 0
        names = sorted(pins) if args.all else [args.package or default]
        for name in names:
            if name not in pins:
                raise TranslationError(
                    f"{name} is not pinned in {PINS_FILE}; pinned: {', '.join(sorted(pins))}")
            print(fetch(pins[name], args.cache_dir))
    except TranslationError as e:
        print(f"kthinlto: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
