"""Loadable modules with distributed ThinLTO: each module's phases are
actions of their own, and the modules Bazel builds are Kbuild's.

For every kernel in kernels.CONFIGS (6.1 and 6.12 x86_64, 6.12 arm64; each
bootable config has lib/test_module.ko, one object, fs/fuse/fuse.ko,
several, and lib/xz's xz_dec.ko and xz_dec_test.ko, with a srcversion and
a dependency), against Kbuild's own in-process ThinLTO `make modules` of
the same tree and config.
"""

import os
import shutil

import pytest

from tests.e2e import kernels
from tools.kthinlto import elf, execlog



def kbuild_modules(kernel: kernels.BuiltKernel) -> list[str]:
    """Kbuild's modules (dir/x.ko, objtree-relative), from its modules.order."""
    with open(os.path.join(kernel.reference, "modules.order")) as f:
        names = [line.strip() for line in f if line.strip()]
    return [n[:-2] + ".ko" if n.endswith(".o") else n for n in names]


@pytest.fixture(scope="session")
def modules(kernel):
    """(kernel, Bazel's installed modules dir, Kbuild's module list)."""
    names = kbuild_modules(kernel)
    assert {"lib/test_module.ko", "fs/fuse/fuse.ko"} <= set(names), names
    return kernel, kernel.modules_dir(), names


def test_bazel_builds_every_module_kbuild_builds(modules):
    kernel, installed, names = modules
    with open(os.path.join(installed, "modules.order")) as f:
        order = [line.strip() for line in f if line.strip()]
    assert order == ["kernel/" + n for n in names]
    for name in names:
        assert os.path.isfile(os.path.join(installed, "kernel", name)), name


def test_every_module_has_kbuilds_symbols(modules):
    kernel, installed, names = modules
    for name in names:
        # Defined and undefined (what it needs of the kernel), binding kept.
        ours = kernels.symbols(os.path.join(installed, "kernel", name), defined_only=False)
        theirs = kernels.symbols(os.path.join(kernel.reference, name), defined_only=False)
        assert len(ours) > 5, name
        assert ours == theirs, (name, sorted((ours - theirs) + (theirs - ours))[:20])


def test_every_module_has_kbuilds_modinfo(modules):
    kernel, installed, names = modules
    # The config has what modpost computes beyond the module's own
    # MODULE_*: a srcversion and a dependency on another module.
    infos = [elf.modinfo(os.path.join(kernel.reference, name)) for name in names]
    assert any(i.get("srcversion") for i in infos), names
    assert any(i.get("depends", [""]) != [""] for i in infos), names
    for name in names:
        ours = elf.modinfo(os.path.join(installed, "kernel", name))
        theirs = elf.modinfo(os.path.join(kernel.reference, name))
        for key in ("vermagic", "license", "depends", "name"):
            assert key in ours, (name, key)
        assert ours == theirs, name


def _kbuilds_modules_dep(kernel, names: list[str], release: str, tmp_path) -> str:
    """depmod's modules.dep of Kbuild's modules, installed as
    modules_install lays them out (modules.order, modules.builtin)."""
    root = tmp_path / "kbuild-install"
    moddir = root / "lib" / "modules" / release
    for name in names:
        (moddir / "kernel" / os.path.dirname(name)).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(os.path.join(kernel.reference, name), moddir / "kernel" / name)
    (moddir / "modules.order").write_text("".join(f"kernel/{n}\n" for n in names))
    shutil.copyfile(os.path.join(kernel.reference, "modules.builtin"), moddir / "modules.builtin")
    kernels.run(["depmod", "-b", str(root), release])
    return (moddir / "modules.dep").read_text()


def test_modules_install_layout_has_kbuilds_builtin_list_and_depmod(modules, tmp_path):
    kernel, installed, names = modules
    with open(os.path.join(installed, "modules.builtin")) as f:
        ours = f.read()
    with open(os.path.join(kernel.reference, "modules.builtin")) as f:
        theirs = f.read()
    # From the Bazel-built vmlinux.o, not the translation's placeholder.
    assert ours == theirs and ours.strip(), ours
    with open(os.path.join(installed, "modules.dep")) as f:
        deps = f.read()
    assert {line.split(":")[0] for line in deps.splitlines()} == {"kernel/" + n for n in names}
    # In full, as depmod makes it of Kbuild's own modules: each module's
    # dependencies too, in order.
    assert deps == _kbuilds_modules_dep(kernel, names, os.path.basename(installed), tmp_path)
    # No link back into the sandbox Kbuild ran in.
    assert not any(os.path.islink(os.path.join(d, f))
                   for d, subdirs, files in os.walk(installed) for f in files + subdirs)


def test_a_module_target_builds_that_module(modules, disk_cache):
    kernel, installed, _ = modules
    kernel.ws.bazel("build", kernel.target("lib/test_module.ko"), f"--disk_cache={disk_cache}")
    one = os.path.join(kernel.bazel_bin(), "modules", "lib", "test_module.ko")
    with open(one, "rb") as a, open(os.path.join(installed, "kernel/lib/test_module.ko"), "rb") as b:
        assert a.read() == b.read()


def test_each_module_has_its_own_thin_link_backends_and_link(modules):
    kernel, _, names = modules
    entries = execlog.read(kernel.exec_log)
    data = kernel.kernel_data()
    bitcode = {o["path"] for o in data["objects"] if o["bitcode"]}
    units = {u["module"]: u for u in data["units"] if u["module"]}
    assert sorted(units) == sorted(names)

    def outputs(mnemonic):
        return [p for e in entries if e["mnemonic"] == mnemonic for p in execlog.outputs(e)]
    for name, unit in units.items():
        target = unit["name"].replace(".", "_").replace("/", "_")
        members = unit["whole"] + unit["lazy"]
        index = [p for p in outputs("ThinLtoIndex") if f"/{target}_thin_link/" in p]
        backends = [p for p in outputs("ThinLtoBackend") if f"/{target}_be/" in p]
        links = [p for p in outputs("RelocatableLink") if p.endswith("/" + unit["name"])]
        assert len(index) == len([m for m in members if m in bitcode]), name
        assert sorted(p.split(f"/{target}_be/")[1] for p in backends) == sorted(
            m for m in members if m in bitcode), name
        assert len(links) == 1, name
    # Modules' objects carry Kbuild's module flags (compiled as FE actions
    # of their own).
    flagsets = data["flagsets"]
    fuse = [o for o in data["objects"] if o["path"].startswith("fs/fuse/")]
    assert fuse and all("-DMODULE" in flagsets[o["flags"]] for o in fuse)
