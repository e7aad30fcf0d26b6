"""Hermetic actions: only declared inputs (an undeclared header fails), no
network, no user environment; the translation takes settings only from its
flags.  docs/guarantees.md lists what this proves."""

import json
import os
import pwd
import re
import shutil
import socket
import sys

from tests.e2e import kernels
from tools.kthinlto import emit

# Widely included, and with no namesake elsewhere on the include path (a
# hidden linux/types.h would silently resolve to include/uapi/linux/types.h).
HEADER = "src/include/linux/init.h"


def test_undeclared_header_is_a_sandbox_failure(default_kernel, tmp_path):
    kernel = default_kernel
    # A copy of the translation whose graph no longer declares one header
    # that every C object includes (the tree itself still has it).
    gen = tmp_path / "gen"
    gen.mkdir()
    orig = kernel.ws.gen()
    for name in os.listdir(orig):           # src, obj, autoconf, BUILD.bazel, ...
        if name != "kernel.bzl":
            os.symlink(os.path.realpath(os.path.join(orig, name)), gen / name)
    data = emit.read_kernel_bzl(os.path.join(orig, "kernel.bzl"))
    hidden = data["files"].index(HEADER)
    for o in data["objects"]:
        o["inputs"] = [i for i in o["inputs"] if i != hidden]
    (gen / "kernel.bzl").write_text(emit.kernel_bzl(data))
    assert os.path.exists(os.path.join(gen, HEADER))

    # Bazel's own way to use a repository directory as @kernel.
    ws = kernels.new_workspace(str(tmp_path / "ws"))
    try:
        proc = ws.bazel("build", "//:vmlinux_o", f"--override_repository=kernel={gen}",
                        check=False)
    finally:
        ws.shutdown()
    assert proc.returncode != 0
    assert "'linux/init.h' file not found" in proc.stderr, proc.stderr[-3000:]


_PROBE = """import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5).close()
except OSError as e:
    sys.exit("no network: %s" % e)
print("connected")
"""

_BUILD = """\
genrule(
    name = "offline",
    srcs = ["probe.py"],
    outs = ["offline.txt"],
    cmd = "python3 $< {port} >$@",
)

genrule(
    name = "online",
    srcs = ["probe.py"],
    outs = ["online.txt"],
    cmd = "python3 $< {port} >$@",
    tags = ["requires-network"],
)
"""


def test_sandboxed_action_cannot_reach_the_network(tmp_path):
    # A TCP port open on the host's loopback, a workspace with this
    # project's .bazelrc, and an action that connects to the port.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    root = tmp_path / "ws"
    root.mkdir()
    (root / "WORKSPACE").write_text("")
    shutil.copy(os.path.join(kernels.REPO, ".bazelrc"), root / ".bazelrc")
    (root / "probe.py").write_text(_PROBE)
    (root / "BUILD.bazel").write_text(_BUILD.format(port=port))
    ws = kernels.Workspace(str(root), str(tmp_path / "output_base"))
    try:
        # The control: an action that asks for the network reaches the port,
        # so the probe can tell.
        ws.bazel("build", "//:online")
        assert (root / "bazel-bin" / "online.txt").read_text() == "connected\n"
        proc = ws.bazel("build", "//:offline", check=False)
    finally:
        ws.shutdown()
        server.close()
    assert proc.returncode != 0
    # Its own network namespace: no route out (101), or a loopback of its
    # own where nothing listens (111).
    assert re.search(r"no network: \[Errno (101|111)\]", proc.stderr), proc.stderr[-2000:]


_NAMES = """\
[genrule(
    name = name,
    outs = [name + ".txt"],
    cmd = "(hostname; id -un) >$@",
) for name in ["names", "control"]]
"""


def test_host_and_user_names_inside_an_action_are_fake(tmp_path):
    # What an action of a workspace with this project's .bazelrc sees,
    # asked from inside it.  The control turns the fakes off for its
    # build, so the probe can tell (and a fake that equals the host's
    # names would fail it).
    root = tmp_path / "ws"
    root.mkdir()
    (root / "WORKSPACE").write_text("")
    shutil.copy(os.path.join(kernels.REPO, ".bazelrc"), root / ".bazelrc")
    (root / "BUILD.bazel").write_text(_NAMES)
    ws = kernels.Workspace(str(root), str(tmp_path / "output_base"))
    try:
        ws.bazel("build", "//:control", "--nosandbox_fake_hostname", "--nosandbox_fake_username")
        ws.bazel("build", "//:names")
    finally:
        ws.shutdown()
    real = [socket.gethostname(), pwd.getpwuid(os.geteuid()).pw_name]
    assert (root / "bazel-bin" / "control.txt").read_text().split() == real
    assert (root / "bazel-bin" / "names.txt").read_text().split() == ["localhost", "nobody"]
    assert "localhost" not in real and "nobody" not in real, real


def _actions(ws: kernels.Workspace, env: dict) -> list[tuple]:
    proc = kernels.run(["bazel", f"--output_base={ws.output_base}", "aquery",
                        "deps(//:vmlinux_o)", "--output=jsonproto"], cwd=ws.root, env=env)
    actions = json.loads(proc.stdout)["actions"]
    # File writes and symlinks have no arguments.
    return [(a["mnemonic"], a["actionKey"], a.get("arguments", []),
             a.get("environmentVariables", [])) for a in actions]


def test_user_environment_does_not_reach_actions(default_kernel):
    clean = _actions(default_kernel.ws, dict(os.environ))
    polluted = dict(os.environ, CFLAGS="-DKTHINLTO_POLLUTED", KCFLAGS="-DKTHINLTO_POLLUTED",
                    LLVM="/nonexistent/", LD_LIBRARY_PATH="/nonexistent/lib",
                    PATH="/nonexistent/bin:" + os.environ["PATH"])
    assert _actions(default_kernel.ws, polluted) == clean
    # Actions see a fixed PATH (--incompatible_strict_action_env) and what
    # the rules set: the toolchain's libraries, the declared Python's
    # standard library (PYTHONHOME), NM and objtree for Kbuild's initcall
    # script.
    names = {v["key"] for a in clean for v in a[3]}
    assert names <= {"PATH", "LD_LIBRARY_PATH", "PYTHONHOME", "NM", "objtree"}, names
    assert len([a for a in clean if a[0] == "ThinLtoBackend"]) > 300


def test_kcflags_is_honoured_through_the_translation_only(default_kernel, tmp_path):
    ws = kernels.new_workspace(str(tmp_path))
    env = dict(os.environ, KCFLAGS="-DKTHINLTO_FROM_ENV", CFLAGS="-DKTHINLTO_FROM_ENV",
               LLVM="/nonexistent/")
    proc = kernels.run([sys.executable, "-m", "tools.kthinlto.configure",
                        f"--workspace={ws.root}", f"--cache_dir={kernels.cache_dir()}",
                        "--kcflags=-DKTHINLTO_FROM_FLAG"], cwd=ws.root, env=env)
    ignoring = [l for l in proc.stderr.splitlines() if "from the environment" in l]
    assert len(ignoring) == 1 and all(v in ignoring[0] for v in ("CFLAGS", "KCFLAGS", "LLVM"))
    ours, default = ws.kernel_data(), default_kernel.ws.kernel_data()

    def flags(data):
        return {o["path"]: data["flagsets"][o["flags"]] for o in data["objects"]}

    assert ours["config"]["kcflags"] == "-DKTHINLTO_FROM_FLAG"
    mine, theirs = flags(ours), flags(default)
    assert sorted(mine) == sorted(theirs)
    c_objects = [o["path"] for o in ours["objects"] if o["bitcode"]]
    assert len(c_objects) > 300
    for path in c_objects:
        assert "-DKTHINLTO_FROM_FLAG" in mine[path], path
        assert [f for f in mine[path] if f != "-DKTHINLTO_FROM_FLAG"] == theirs[path], path
    assert not [p for p, f in mine.items() if any("FROM_ENV" in x for x in f)]
