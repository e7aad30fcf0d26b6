"""Bit-for-bit reproducible builds, proven on the real default kernel.

A second build of the default kernel ("B") differs from the session's
first ("A", the default_kernel fixture) in everything a build can pick up
from where and when it runs, each changed for real:

  checkout path   another directory, another name and depth
  output base     its own, under its own Bazel output user root
  user            runs as another user (OTHER_USER, created if missing)
  host name       in its own UTS namespace named OTHER_HOST
  date and time   its translation (the only step where Kbuild reads the
                  clock) runs under faketime, CLOCK_SHIFT_DAYS ahead.  Its
                  Bazel actions run at the real time, minutes after A's: not
                  shifted, because libfaketime in the sandbox (preloaded
                  through the namespace's /etc/ld.so.preload) makes Bazel's
                  linux-sandbox self-check fail (its semaphores in a
                  read-only /dev/shm), and Bazel then falls back to a
                  sandbox without the fake host and user names
  jobs            one more translation job and five more Bazel jobs than
                  A (whose are the number of cores, the defaults)
  caches          its own KTHINLTO_CACHE (translated again, from a copy of
                  the kernel source at another path) and no disk or remote
                  cache
  environment     KCFLAGS, CFLAGS, LLVM and CC set to other values, which
                  the translation must ignore (`--kcflags` is the way)

vmlinux.o, and every output of every action, must be byte-identical.  The tests need root (to run as
another user and host name); CI runs as root.
"""

import concurrent.futures
import hashlib
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time

import absl
import pytest

from tests.e2e import kernels
from tools.kthinlto import execlog
from tools.kthinlto.kbuild import LLVM_VERSION, Toolchain

TC = Toolchain()

OTHER_USER = "kthinlto-repro"
OTHER_HOST = "kthinlto-repro-host"
CLOCK_SHIFT_DAYS = 1500
CORES = os.cpu_count() or 2
TRANSLATE_JOBS = CORES + 1  # A: configure's default, CORES
BAZEL_JOBS = CORES + 5      # A: Bazel's default, CORES
INJECTED = {"KCFLAGS": "-DKTHINLTO_INJECTED_KCFLAGS", "CFLAGS": "-DKTHINLTO_INJECTED_CFLAGS",
            "LLVM": "/nonexistent/llvm/", "CC": "gcc"}


def _other_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(OTHER_USER)
    except KeyError:
        kernels.run(["useradd", "--system", "--no-create-home",
                     "--shell", "/usr/sbin/nologin", OTHER_USER])
        return pwd.getpwnam(OTHER_USER)


class SecondBuild:
    """Where B's files are, and what B's environment really was."""

    def __init__(self, base: str):
        self.base = base
        self.checkout = os.path.join(base, "elsewhere", "second-checkout")
        self.cache = os.path.join(base, "kthinlto-cache")
        self.source = os.path.join(base, "source", "linux")
        self.output_base = os.path.join(base, "bazel-root", "ob")
        self.exec_log = os.path.join(base, "exec.json")
        self.facts_dir = os.path.join(base, "facts")

    def fact(self, name: str) -> str:
        with open(os.path.join(self.facts_dir, name)) as f:
            return f.read().strip()

    @property
    def execroot(self) -> str:
        return self.fact("execroot")

    @property
    def vmlinux_o(self) -> str:
        return os.path.join(self.execroot, "bazel-out/k8-fastbuild/bin/external/kernel/vmlinux.o")


def _script(b: SecondBuild) -> str:
    q = shlex.quote
    bazel = (f"bazel --output_user_root={q(os.path.dirname(b.output_base))} "
             f"--output_base={q(b.output_base)} --max_idle_secs=60")
    return f"""set -eu
cd {q(b.checkout)}
id -un >{q(b.facts_dir)}/user
hostname >{q(b.facts_dir)}/host
faketime -f +{CLOCK_SHIFT_DAYS}d date +%s >{q(b.facts_dir)}/translation_clock
faketime -f +{CLOCK_SHIFT_DAYS}d /usr/bin/python3 -m tools.kthinlto.configure \\
    --workspace={q(b.checkout)} --cache_dir={q(b.cache)} --source={q(b.source)} \\
    --jobs={TRANSLATE_JOBS}
{bazel} build //:vmlinux_o //:modules --jobs={BAZEL_JOBS} --execution_log_json_file={q(b.exec_log)} \
    2>{q(b.facts_dir)}/build.stderr || {{ cat {q(b.facts_dir)}/build.stderr >&2; exit 1; }}
{bazel} info execution_root >{q(b.facts_dir)}/execroot
{bazel} shutdown
"""


@pytest.fixture(scope="module")
def second(default_kernel):
    if os.geteuid() != 0:
        pytest.fail("this test runs a build as another user in its own UTS "
                    "namespace, which needs root (CI runs as root)")
    user = _other_user()
    base = tempfile.mkdtemp(prefix="kthinlto-second-build-", dir="/tmp")
    b = SecondBuild(base)
    try:
        kernels.copy_checkout(b.checkout)
        for d in (b.facts_dir, b.cache, os.path.join(base, "home")):
            os.makedirs(d)
        # The other user runs Debian's python3 (this one may live in a home
        # it cannot read) with a copy of the one package translation needs.
        shutil.copytree(os.path.dirname(absl.__file__), os.path.join(base, "pylib", "absl"))
        kernels.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", base])
        os.chmod(base, 0o755)
        os.makedirs(os.path.dirname(b.source))
        # The kernel source at another path: a hard-linked copy, read-only
        # to the other user (never chown'ed: its files are the shared tree's).
        kernels.private_source(b.source)
        # Bazel's kernel repository rule translates with the same cache and
        # Python: it finds the translation made under faketime and reuses it.
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.path.join(base, "home"),
               "USER": OTHER_USER, "LOGNAME": OTHER_USER,
               "PYTHONPATH": os.path.join(base, "pylib"), "KTHINLTO_CACHE": b.cache,
               "KTHINLTO_PYTHON": "/usr/bin/python3", **INJECTED}
        cmd = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', OTHER_HOST,
               "runuser", "-u", OTHER_USER, "--", "env", "-i",
               *[f"{k}={v}" for k, v in env.items()], "sh", "-c", _script(b)]
        start = time.monotonic()
        kernels.run(cmd)
        kernels.log(f"second build (translation and bazel build) took "
                    f"{time.monotonic() - start:.0f} s")
        yield b
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_vmlinux_o_is_identical_across_path_output_base_user_host_translation_clock_and_jobs(
        default_kernel, second):
    # What differed, as B saw it.
    assert second.fact("user") == OTHER_USER != pwd.getpwuid(os.getuid()).pw_name
    assert second.fact("host") == OTHER_HOST != socket.gethostname()
    shift = int(second.fact("translation_clock")) - time.time()
    assert shift > (CLOCK_SHIFT_DAYS - 1) * 86400, shift
    assert second.checkout != default_kernel.ws.root
    assert second.output_base != default_kernel.ws.output_base
    assert not second.execroot.startswith(default_kernel.ws.output_base)
    assert _sha256(second.vmlinux_o) == _sha256(default_kernel.vmlinux_o)


def _outputs(log: str) -> dict[str, tuple[str, str]]:
    """Every action output: path -> (mnemonic, sha256)."""
    return {o["path"]: (e["mnemonic"], o["digest"]["hash"])
            for e in execlog.read(log) for o in e.get("actualOutputs", [])}


def test_bazel_used_the_translation_made_under_faketime(second):
    # B's repository rule found the translation its configure step made (the
    # one under faketime) in B's cache, and made none of its own.
    stderr = second.fact("build.stderr")
    assert "reusing" in stderr and "make tinyconfig" not in stderr, stderr[-3000:]


def test_every_intermediate_is_identical(default_kernel, second):
    a, b = _outputs(default_kernel.exec_log), _outputs(second.exec_log)
    assert sorted(a) == sorted(b)
    differ = sorted(p for p in a if a[p] != b[p])
    assert not differ, f"{len(differ)} outputs differ, e.g. {differ[:5]}"
    per_phase = {}
    for mnemonic, _ in a.values():
        per_phase[mnemonic] = per_phase.get(mnemonic, 0) + 1
    print(f"identical outputs per phase: {per_phase}")
    for phase in ("ThinLtoCompile", "ThinLtoBackend"):
        assert per_phase.get(phase, 0) > 300, (phase, per_phase)
    # One thin link and one link per unit: vmlinux.o and each module.
    units = len(default_kernel.kernel_data()["units"])
    assert units > 2
    assert per_phase["ThinLtoIndex"] > 300 and per_phase["RelocatableLink"] == units


def test_modules_are_identical(default_kernel, second):
    # Module.symvers, each .mod.c, .mod.o and .ko, the built-in list and
    # the installed tree.
    a, b = _outputs(default_kernel.exec_log), _outputs(second.exec_log)
    modules = sorted(p for p, (mnemonic, _) in a.items() if mnemonic in (
        "Modpost", "ModuleInfoCompile", "ModuleLink", "ModulesBuiltin", "ModulesInstall"))
    kos = [p for p in modules if p.endswith(".ko")]
    assert any(p.endswith("/lib/test_module.ko") for p in kos), modules
    assert any(p.endswith("/fs/fuse/fuse.ko") for p in kos), modules
    assert [a[p] for p in modules] == [b.get(p) for p in modules]


def test_every_action_ran_in_the_sandbox(second):
    # B used no cache: every action ran, each in Bazel's linux-sandbox
    # (no network, fake host and user name: .bazelrc).
    entries = execlog.read(second.exec_log)
    assert len([e for e in entries if e["mnemonic"] == "ThinLtoBackend"]) > 300
    runners = {}
    for e in entries:
        runners.setdefault(e["runner"], set()).add(e["mnemonic"])
    assert set(runners) == {"linux-sandbox"}, runners


def _needles(second) -> list[bytes]:
    needles = [second.base, OTHER_USER, OTHER_HOST, "bazel-sandbox", "/dev/shm/",
               "/execroot/", os.path.expanduser("~/.cache"), f"/usr/lib/llvm-{LLVM_VERSION}"]
    return [n.encode() for n in needles]


def _texts(data: bytes) -> list[bytes]:
    """The bytes of a file and, for bitcode, its disassembly (bitcode packs
    most strings at bit offsets, where a byte search misses them)."""
    if data[:4] != b"BC\xc0\xde":
        return [data]
    dis = subprocess.run([TC.tool("llvm-dis"), "-o", "-"], input=data,
                         capture_output=True, check=True).stdout
    return [data, dis]


def _members(path: str) -> list[tuple[str, bytes]]:
    if not path.endswith(".tar"):
        with open(path, "rb") as f:
            return [(path, f.read())]
    with tarfile.open(path) as tar:
        return [(f"{path}:{m.name}", tar.extractfile(m).read())
                for m in tar.getmembers() if m.isfile()]


def test_no_host_path_user_or_host_name_in_any_output(second):
    needles = _needles(second)
    files = sorted(_outputs(second.exec_log))
    blobs = {}
    for rel in files:
        for name, data in _members(os.path.join(second.execroot, rel)):
            blobs.setdefault(hashlib.sha256(data).digest(), (name, data))

    def leaks(item):
        name, data = item
        return [(name, n.decode()) for text in _texts(data) for n in needles if n in text]

    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        found = [hit for hits in pool.map(leaks, blobs.values()) for hit in hits]
    print(f"searched {len(files)} outputs ({len(blobs)} distinct files and "
          f"bundle members) for {[n.decode() for n in needles]}")
    assert len(blobs) > 800
    assert not found, found[:10]


def test_build_stamp_is_pinned_by_the_graph(second):
    # B ran as OTHER_USER on OTHER_HOST years ahead: the kernel's banner
    # and version still carry the pinned values (tools/kthinlto/kbuild.py,
    # PINNED_BUILD_ENV), as Kbuild's reproducible-builds guide sets them.
    with open(second.vmlinux_o, "rb") as f:
        data = f.read()
    assert b"(kthinlto@kthinlto)" in data
    assert b"#1 Thu Jan  1 00:00:00 UTC 1970" in data
    assert OTHER_USER.encode() not in data and OTHER_HOST.encode() not in data
