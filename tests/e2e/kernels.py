"""Real kernels for the end-to-end tests: translated, built by Bazel, and
built by Kbuild's own in-process ThinLTO as the reference.

Kernel builds are the cost of the suite, so each configuration is built once
per session (see conftest.py) and Kbuild's reference build is kept in the
cache folder (KTHINLTO_CACHE, default ~/.cache/kthinlto) keyed by what it is
built from: the source tree's content, the .config and the compiler's
version (reference_key).  A repeated run reuses it, a fresh machine or a
changed tree builds it.
"""

import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

from tools.kthinlto import arches, buildgraph, elf, emit, execlog, kbuild
from tools.kthinlto.kbuild import read_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# name -> the kernel repository the workspace declares (kernels/<repo>.json):
# one small config per kernel and architecture tested, each tinyconfig plus
# the arch's bootable fragment, so that one build serves its symbol checks
# and its boot test.  "default" is @kernel, what `./kthin build` builds; the
# others are declared beside it and built as @<repo>//:vmlinux_o.
CONFIGS = {
    "default": "kernel",        # 6.1 x86_64
    "6.12": "kernel_6_12",      # 6.12 x86_64
    "arm64": "kernel_arm64",    # 6.12 arm64
}


# One rule for "no host path in any action" (tools/kthinlto/buildgraph.py).
host_path_words = buildgraph.host_path_words
action_host_paths = buildgraph.action_host_paths


# One rule for every comparison with Kbuild (tools/kthinlto/elf.py).
PROMOTED = elf.PROMOTED
symbols = elf.symbols


def global_symbols(path: str) -> dict[str, tuple[str, str, str]]:
    """name (promoted suffix masked) -> (visibility, section index, value)
    of every defined global or weak symbol of an object (llvm-readelf)."""
    out = subprocess.run([kbuild.Toolchain().tool("llvm-readelf"), "-s", "-W", path],
                         check=True, capture_output=True, text=True).stdout
    result = {}
    for line in out.splitlines():
        w = line.split()
        if (len(w) == 8 and w[0].endswith(":") and w[4] in ("GLOBAL", "WEAK")
                and w[6] != "UND" and w[3] not in ("SECTION", "FILE")):
            result[PROMOTED.sub("", w[7])] = (w[5], w[6], w[1])
    return result


def hidden_by_kbuild_only(ours_o: str, theirs_o: str) -> dict[str, list[str]]:
    """The one way our vmlinux.o's symbols may differ from Kbuild's: an
    alias that Kbuild's vmlinux.o has HIDDEN and ours DEFAULT, name -> the
    default-visible symbols it aliases (same section and value) in ours;
    each proven by a weak hidden twin in Kbuild's own objects
    (weak_hidden_twins): a symbol without one is not in the result.

    Why: the kernel defines some symbols twice, a strong alias of a real
    function and a weak hidden one of sys_ni_syscall (COND_SYSCALL, e.g.
    __x64_sys_clock_adjtime32).  ELF gives the resolved symbol the most
    constraining visibility of all its definitions, so Kbuild's in-process
    link, which sees both, makes it HIDDEN; the distributed thin link drops
    the non-prevailing weak definition in its backend, so our relocatable
    link never sees its visibility.  The final link turns HIDDEN globals
    into locals: such a symbol is t in Kbuild's vmlinux and T in ours; the
    code it names is the same.
    """
    ours, theirs = global_symbols(ours_o), global_symbols(theirs_o)
    where = {}
    for name, (vis, section, value) in ours.items():
        if vis == "DEFAULT":
            where.setdefault((section, value), []).append(name)
    candidates = [name for name, (vis, _, _) in ours.items()
                  if name in theirs and theirs[name][0] == "HIDDEN" and vis == "DEFAULT"]
    twins = weak_hidden_twins(os.path.dirname(theirs_o), candidates)
    return {name: sorted(n for n in where[ours[name][1:]] if n != name)
            for name in candidates if twins[name]}


def weak_hidden_twins(objtree: str, names: list[str]) -> dict[str, list[str]]:
    """name -> Kbuild's bitcode objects under objtree (vmlinux.o aside)
    that define it weak and hidden (`define weak hidden ... @name(` in
    llvm-dis's text)."""
    found = {name: [] for name in names}
    if not names:
        return found
    wanted = [n.encode() for n in names]
    dis = kbuild.Toolchain().tool("llvm-dis")
    for where, _, files in os.walk(objtree):
        for f in files:
            path = os.path.join(where, f)
            if not f.endswith(".o") or path == os.path.join(objtree, "vmlinux.o"):
                continue
            with open(path, "rb") as fh:
                data = fh.read()
            if not data.startswith(b"BC\xc0\xde") or not any(w in data for w in wanted):
                continue
            text = subprocess.run([dis, path, "-o", "-"], capture_output=True,
                                  text=True).stdout
            for name in names:
                if re.search(r"^define weak hidden [^@]*@" + re.escape(name) + r"\(", text,
                             re.M):
                    found[name].append(os.path.relpath(path, objtree))
    return found


def cache_dir() -> str:
    return os.environ.get("KTHINLTO_CACHE") or os.path.expanduser("~/.cache/kthinlto")


def log(msg: str) -> None:
    print(f"[e2e] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], cwd: str | None = None, env: dict | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout (tail)\n{proc.stdout[-4000:]}\n"
            f"--- stderr (tail)\n{proc.stderr[-4000:]}")
    return proc


def copy_checkout(dest: str) -> str:
    """A copy of the tracked files: a second checkout at another path."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                           capture_output=True).stdout.split(b"\0")
    for f in files:
        if not f:
            continue
        rel = f.decode()
        src = os.path.join(REPO, rel)
        if not os.path.exists(src):
            continue
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        shutil.copy2(src, out)
    return dest


# (output base, target) -> mnemonic -> output directory (Workspace.output_dirs)
_OUTPUT_DIRS: dict[tuple[str, str], dict[str, str]] = {}


@dataclasses.dataclass
class Workspace:
    """A checkout with its own Bazel output base (and, if given, the
    environment its Bazel runs in: another KTHINLTO_CACHE, for example)."""
    root: str
    output_base: str
    env: dict | None = None

    def bazel_argv(self, *args: str) -> list[str]:
        return ["bazel", f"--output_base={self.output_base}", "--max_idle_secs=600", *args]

    def bazel(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(self.bazel_argv(*args), cwd=self.root, env=self.env, check=check)

    def bazel_in_background(self, log_path: str, *args: str) -> subprocess.Popen:
        """`bazel args` started and left running, its output to log_path."""
        with open(log_path, "w") as out:
            return subprocess.Popen(self.bazel_argv(*args), cwd=self.root, env=self.env,
                                    stdout=out, stderr=subprocess.STDOUT)

    def configure(self, *flags: str, check: bool = True) -> subprocess.CompletedProcess:
        """./kthin configure, as a user types it in this checkout: translates,
        then declares kernels/<--name>.json."""
        return run([os.path.join(self.root, "kthin"), "configure",
                    f"--cache_dir={cache_dir()}", *flags], cwd=self.root, check=check)

    def fetch(self, repo: str = "kernel", check: bool = True) -> subprocess.CompletedProcess:
        """Makes Bazel translate (or reuse) the declared kernel @repo."""
        return self.bazel("query", f"@{repo}//:vmlinux_o", check=check)

    def gen(self, repo: str = "kernel") -> str:
        """The translation @repo links to (fetched first if need be)."""
        linked = os.path.join(self.output_base, "external", repo, "kernel.bzl")
        if not os.path.exists(linked):
            self.fetch(repo)
        return os.path.dirname(os.path.realpath(linked))

    def kernel_data(self, repo: str = "kernel") -> dict:
        return emit.read_kernel_bzl(os.path.join(self.gen(repo), "kernel.bzl"))

    def aquery(self, expr: str) -> dict:
        out = self.bazel("aquery", expr, "--output=jsonproto").stdout
        return json.loads(out) if out.strip() else {}

    def output_dirs(self, target: str = "//:vmlinux_o") -> dict[str, str]:
        """mnemonic -> the directory of its outputs (execroot-relative); one
        aquery per output base and target."""
        key = (self.output_base, target)
        if key not in _OUTPUT_DIRS:
            _OUTPUT_DIRS[key] = execlog.output_dirs(self.aquery(f"deps({target})"))
        return _OUTPUT_DIRS[key]

    def bazel_bin(self) -> str:
        return self.bazel("info", "bazel-bin").stdout.strip()

    def vmlinux_o(self, repo: str = "kernel") -> str:
        """Where this output base's build of @repo//:vmlinux_o is."""
        return os.path.join(self.bazel_bin(), "external", repo, "vmlinux.o")

    def shutdown(self) -> None:
        self.bazel("shutdown", check=False)

    def report(self, profile: str, exec_log: str, out: str, *flags: str) -> "Report":
        """`./kthin report` of one build of this workspace (its profile and
        execution log), with its picture and figures written under out/."""
        os.makedirs(out, exist_ok=True)
        svg, figures = os.path.join(out, "report.svg"), os.path.join(out, "report.json")
        proc = run([os.path.join(self.root, "kthin"), "report",
                    f"--bazel=bazel,--output_base={self.output_base},--max_idle_secs=600",
                    f"--profile={profile}", f"--execution_log={exec_log}",
                    f"--svg={svg}", f"--json={figures}", *flags], cwd=self.root)
        print(proc.stdout)
        with open(figures) as f:
            return Report(proc.stdout, json.load(f), svg)


@dataclasses.dataclass(frozen=True)
class Report:
    """What `./kthin report` printed, its figures (--json) and its picture."""
    text: str
    figures: dict
    svg: str


def build_logged(ws: Workspace, log_path: str, *flags: str, target: str = "//:vmlinux_o",
                 check: bool = True) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """`bazel build target flags` with an execution log; returns the process
    and the log's entries, and prints the log's figures per phase."""
    proc = ws.bazel("build", target, f"--execution_log_json_file={log_path}", *flags,
                    check=check)
    entries = execlog.read(log_path) if os.path.exists(log_path) else []
    print(f"\n{ws.output_base}: {' '.join(flags)}\n{execlog.figures(entries)}")
    return proc, entries


def wait_for_files(build: subprocess.Popen, directory: str, count: int) -> int:
    """Waits until count files exist under directory (a phase's outputs
    appearing) or the build has ended; returns how many there are."""
    done = 0
    while build.poll() is None and done < count:
        time.sleep(0.2)
        done = sum(len(files) for _, _, files in os.walk(directory))
    return done


def warnings(stderr: str) -> list[tuple[str, str]]:
    """Bazel's WARNING lines, each with the line after it (its detail)."""
    lines = stderr.splitlines()
    return [(line, lines[i + 1] if i + 1 < len(lines) else "")
            for i, line in enumerate(lines) if line.startswith("WARNING:")]


def same_bytes(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def new_workspace(base: str) -> Workspace:
    root = copy_checkout(os.path.join(base, "checkout"))
    return Workspace(root=root, output_base=os.path.join(base, "output_base"))


@dataclasses.dataclass
class BuiltKernel:
    name: str
    repo: str            # its Bazel repository (kernels/<repo>.json)
    ws: Workspace
    srctree: str
    objtree: str
    vmlinux_o: str       # Bazel's
    reference: str       # Kbuild's in-process ThinLTO object tree
    exec_log: str        # the build's execution log (JSON)
    profile: str         # the build's JSON profile (every action, by output)

    @property
    def arch(self) -> arches.Arch:
        return arch_of(os.path.join(self.objtree, ".config"))

    def target(self, name: str) -> str:
        """A target of this kernel's repository: @repo//:name."""
        return f"@{self.repo}//:{name}"

    def gen(self) -> str:
        return self.ws.gen(self.repo)

    def kernel_data(self) -> dict:
        return self.ws.kernel_data(self.repo)

    def output_dir(self, mnemonic: str) -> str:
        """Execroot-relative directory of a phase's outputs, found by the
        mnemonic of its actions (aquery, run once per kernel)."""
        return self.ws.output_dirs(self.target("vmlinux_o"))[mnemonic]

    def modules_dir(self) -> str:
        """Bazel's modules as installed: .../lib/modules/<release>."""
        base = os.path.join(self.bazel_bin(), "modules", "install", "lib", "modules")
        (release,) = os.listdir(base)
        return os.path.join(base, release)

    def bazel_bin(self) -> str:
        """Where its outputs are: bazel-bin/external/<repo>."""
        out = self.ws.bazel("info", "bazel-bin").stdout.strip()
        return os.path.join(out, "external", self.repo)


def arch_of(config_path: str) -> arches.Arch:
    arch = arches.of_config(read_config(config_path))
    assert arch, f"{config_path}: no architecture kthinlto knows"
    return arch


def reference_goals(config_path: str) -> list[str]:
    """What a reference build makes: the boot image, and the modules when
    the config has them."""
    goals = [arch_of(config_path).image]
    if read_config(config_path).get("CONFIG_MODULES") == "y":
        goals.append("modules")
    return goals


def tree_digest(root: str) -> str:
    """Of a tree's content: every file's path and bytes, every symlink's
    path and target (a few seconds for a kernel tree in the page cache)."""
    h = hashlib.sha256()
    for where, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(where, name)
            rel = os.path.relpath(path, root).encode()
            if os.path.islink(path):
                h.update(b"L" + rel + b"\0" + os.readlink(path).encode() + b"\0")
                continue
            with open(path, "rb") as f:
                h.update(b"F" + rel + b"\0" + hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def llvm_version(tc: kbuild.Toolchain) -> str:
    """clang's own version line (19.1.7 and 19.1.8 are other compilers)."""
    out = run([tc.clang, "--version"]).stdout
    return out.splitlines()[0]


def reference_recipe(arch: str, goals: list[str], tc: kbuild.Toolchain) -> str:
    """How a reference build is made, without its paths: make's arguments
    (the source and object trees as tokens), then its goals, and the
    environment it runs in (Kbuild's, kbuild.kbuild_env: of the user's only
    PATH, HOME and TMPDIR, which say where programs are, not what they make)."""
    return json.dumps({"make": kbuild.make_args("$SRC", "$OBJ", arch, tc), "goals": goals,
                       "env": kbuild.kbuild_env({})}, sort_keys=True)


def reference_key(tree: str, config: bytes, llvm: str, recipe: str) -> str:
    """A reference build's name in the cache: what it is built from (the
    source tree's digest, the .config, the compiler) and how (the recipe),
    never where."""
    return hashlib.sha256(b"\0".join([tree.encode(), config, llvm.encode(),
                                      recipe.encode()])).hexdigest()[:16]


# Beside a reference build: the source tree it was made from (later make
# runs in it must name the same tree, or Kbuild rebuilds everything).
_REFERENCE_SOURCE = "kthinlto-source"


def reference_source(ref: str) -> str:
    with open(os.path.join(ref, _REFERENCE_SOURCE)) as f:
        return f.read().strip()


def kbuild_reference(srctree: str, config_path: str, jobs: int = 2) -> str:
    """Kbuild's own `make LLVM=-19 <boot image> modules` (in-process
    ThinLTO: vmlinux.o, vmlinux, the image and each module), run in
    Kbuild's environment only and cached by content (reference_key); one
    build at a time per key (a lock)."""
    with open(config_path, "rb") as f:
        config = f.read()
    arch = arch_of(config_path)
    tc = kbuild.Toolchain()
    goals = reference_goals(config_path)
    start = time.monotonic()
    key = reference_key(tree_digest(srctree), config, llvm_version(tc),
                        reference_recipe(arch.name, goals, tc))
    log(f"source tree digested in {time.monotonic() - start:.1f} s")
    ref = os.path.join(cache_dir(), "reference", key)
    os.makedirs(os.path.dirname(ref), exist_ok=True)
    with open(ref + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(ref, "vmlinux.o")):
            log(f"reusing Kbuild reference build {ref} (of {reference_source(ref)})")
            return ref
        tmp = ref + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        shutil.copyfile(config_path, os.path.join(tmp, ".config"))
        with open(os.path.join(tmp, _REFERENCE_SOURCE), "w") as f:
            f.write(srctree + "\n")
        base = kbuild.make_args(srctree, tmp, arch.name, tc)
        env = kbuild.kbuild_env(os.environ)
        run(base + ["olddefconfig"], env=env)
        start = time.monotonic()
        run(base + [f"-j{jobs}", *goals], env=env)
        log(f"Kbuild reference build took {time.monotonic() - start:.0f} s")
        os.rename(tmp, ref)
    return ref


def kbuild_image(kernel: "BuiltKernel") -> str:
    """Kbuild's boot image of a reference build (one of its goals)."""
    return os.path.join(kernel.reference, kernel.arch.image_path)


# The config of user.bazelrc that names the session's HTTP cache.
SESSION_CACHE = "session_cache"


def build(name: str, base: str, disk_cache: str, remote_cache: str = "") -> BuiltKernel:
    """The declared kernel CONFIGS[name] (vmlinux.o and the modules), built
    by `bazel build` alone in a fresh checkout (Bazel translates it), and
    Kbuild's reference.  With remote_cache (an HTTP cache's URL, set in the
    checkout's user.bazelrc), Bazel writes every action's result there too,
    beside the disk cache, and the translation is stored there."""
    ws = new_workspace(base)
    repo = CONFIGS[name]
    exec_log = os.path.join(base, "exec.json")
    profile = os.path.join(base, "profile.json.gz")
    if remote_cache:
        # One setting, as docs/remote.md asks of a user: Bazel's actions and
        # the translation (tools/kthinlto/shared_cache.py) share the cache.
        with open(os.path.join(ws.root, "user.bazelrc"), "w") as f:
            f.write(f"build:{SESSION_CACHE} --remote_cache={remote_cache}\n")
    ws.bazel("build", f"@{repo}//:vmlinux_o", f"@{repo}//:modules",
             f"--disk_cache={disk_cache}", f"--execution_log_json_file={exec_log}",
             f"--profile={profile}", *buildgraph.PROFILE_FLAGS,
             *([f"--config={SESSION_CACHE}"] if remote_cache else []))
    gen = ws.gen(repo)
    srctree = os.path.realpath(os.path.join(gen, "src"))
    objtree = os.path.realpath(os.path.join(gen, "obj"))
    out = ws.bazel("info", "bazel-bin").stdout.strip()
    vmlinux_o = os.path.join(out, "external", repo, "vmlinux.o")
    assert os.path.isfile(vmlinux_o), vmlinux_o
    ref = kbuild_reference(srctree, os.path.join(objtree, ".config"))
    return BuiltKernel(name, repo, ws, srctree, objtree, vmlinux_o, ref, exec_log, profile)


def default_source() -> str:
    """The extracted default tree in the cache (extracted if missing)."""
    sys.path.insert(0, REPO)
    from tools.kthinlto import configure
    return configure.pinned_tree(configure.read_pins()[0], cache_dir())


def private_source(dest: str) -> str:
    """A hard-linked copy of the default tree, safe to edit with edit()."""
    run(["cp", "-al", default_source(), dest])
    return dest


def edit(tree: str, rel: str, old: str, new: str) -> None:
    """Replaces one line in a copied tree without touching the shared inode."""
    path = os.path.join(tree, rel)
    with open(path) as f:
        text = f.read()
    assert text.count(old) == 1, f"{rel}: expected one {old!r}"
    tmp = path + ".kthinlto-edit"
    with open(tmp, "w") as f:
        f.write(text.replace(old, new))
    os.replace(tmp, path)
