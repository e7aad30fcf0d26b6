"""Runs Kbuild itself: configuration and the recorded (stubbed) build.

Nothing here re-implements Kbuild: the kernel's own Makefiles decide objects,
flags and link order; the shims (shim.sh) record their decisions.
"""

import dataclasses
import logging
import os
import shlex
import subprocess
import sys
import time

from tools.kthinlto.records import TranslationError

PINNED_BUILD_ENV = {
    "KBUILD_BUILD_TIMESTAMP": "Thu Jan  1 00:00:00 UTC 1970",
    "KBUILD_BUILD_USER": "kthinlto",
    "KBUILD_BUILD_HOST": "kthinlto",
    "KBUILD_BUILD_VERSION": "1",
}

# What a translation's Kbuild steps take from the user's environment: only
# where to find programs and a home.  Everything else Kbuild or make would
# read as a setting (KCFLAGS, CFLAGS, LLVM, CC, CROSS_COMPILE, KBUILD_*,
# MAKEFLAGS, ...) is dropped: settings come from the translation command
# (--kcflags), so they are recorded in the graph and in its cache keys.
PASSED_ENV = ("PATH", "HOME", "TMPDIR")

# Variables a user may expect Kbuild to honour; named when ignored.
KBUILD_SETTINGS = ("ARCH", "CC", "CFLAGS", "CPPFLAGS", "CROSS_COMPILE", "HOSTCC",
                   "HOSTCFLAGS", "KAFLAGS", "KCFLAGS", "KCPPFLAGS", "LD",
                   "LDFLAGS", "LLVM", "LLVM_IAS", "MAKEFLAGS")


def ignored_settings(environ) -> list[str]:
    """Settings in environ that a translation ignores (sorted names)."""
    return sorted(k for k in environ
                  if k in KBUILD_SETTINGS or k.startswith(("KBUILD_", "KCONFIG_")))


def kbuild_env(environ, **extra: str) -> dict[str, str]:
    """The environment of every Kbuild step of a translation.

    environ: the user's environment; only PASSED_ENV is taken from it.
    extra: variables the translation sets itself.
    """
    env = {k: environ[k] for k in PASSED_ENV if k in environ}
    env["LC_ALL"] = "C"
    # Pinned the way Kbuild documents (Documentation/kbuild/reproducible-
    # builds.rst): generated headers then do not depend on who translates
    # where and when, so neither do the cache keys of the graph.
    env.update(PINNED_BUILD_ENV)
    env.update(extra)
    return env


SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim.sh")

# The LLVM major version (Debian's clang-N, ld.lld-N, ...): written once, in
# toolchains/LLVM_VERSION, which the set-up (kthin) and the LLVM repository
# rule read too.
_LLVM_VERSION_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "toolchains", "LLVM_VERSION")
with open(_LLVM_VERSION_FILE) as _f:
    LLVM_VERSION = _f.read().strip()


@dataclasses.dataclass(frozen=True)
class Toolchain:
    """Host names of the LLVM tools Kbuild is told to use (LLVM=-N)."""
    suffix: str = "-" + LLVM_VERSION

    def tool(self, name: str) -> str:
        """Any LLVM tool by its plain name: llvm-readelf -> llvm-readelf-19."""
        return name + self.suffix

    @property
    def clang(self) -> str:
        return "clang" + self.suffix

    @property
    def ld(self) -> str:
        return "ld.lld" + self.suffix

    @property
    def ar(self) -> str:
        return "llvm-ar" + self.suffix

    @property
    def nm(self) -> str:
        return "llvm-nm" + self.suffix

    @property
    def strip(self) -> str:
        return "llvm-strip" + self.suffix

    @property
    def scan_deps(self) -> str:
        return "clang-scan-deps" + self.suffix


@dataclasses.dataclass(frozen=True)
class ConfigSpec:
    """What configures the kernel: a make target, a .config, or both.

    target: a config target such as tinyconfig or defconfig (may be empty
      when `config_file` is given); fragments: files merged on top;
      config_file: a full .config used as is.
    """
    target: str = "tinyconfig"
    config_file: str = ""
    fragments: tuple[str, ...] = ()


# Kconfig's targets that make a .config without asking anything
# (scripts/kconfig/Makefile), besides the *_defconfig and *.config files.
_CONFIG_TARGETS = ("defconfig", "tinyconfig", "allnoconfig", "allyesconfig",
                   "allmodconfig", "alldefconfig", "randconfig")


def config_targets(srctree: str, srcarch: str) -> list[str]:
    """The config targets Kbuild has for this tree and SRCARCH (sorted)."""
    targets = set(_CONFIG_TARGETS)
    for d, suffix in ((f"arch/{srcarch}/configs", "_defconfig"),
                      (f"arch/{srcarch}/configs", ".config"), ("kernel/configs", ".config")):
        path = os.path.join(srctree, d)
        if os.path.isdir(path):
            targets.update(f for f in os.listdir(path) if f.endswith(suffix))
    return sorted(targets)


# How errors name each ConfigSpec setting: as configure's flags by default.
FLAG_NAMES = {"target": "--config", "config_file": "--config_file", "fragments": "--fragment",
              "arch": "--arch"}


def check_spec(spec: "ConfigSpec", srctree: str, srcarch: str,
               names: dict[str, str] = FLAG_NAMES) -> None:
    """Refuses, before any Kbuild step, a config target Kbuild does not have
    and config files that are not kernel configs.  names: how the error
    names each setting (a flag, or a declaration's field)."""
    if spec.target and spec.target not in config_targets(srctree, srcarch):
        raise TranslationError(
            f"{names['target']}={spec.target}: no such config target for ARCH's "
            f"arch/{srcarch}; the tree has: {', '.join(config_targets(srctree, srcarch))}")
    for path, what in ([(spec.config_file, names["config_file"])] if spec.config_file else []) + [
            (f, names["fragments"]) for f in spec.fragments]:
        if not os.path.isfile(path):
            raise TranslationError(f"{what}={path}: no such config file")
        if not read_config(path, unset=True):
            raise TranslationError(
                f"{what}={path}: not a kernel config (no CONFIG_X=... or "
                "`# CONFIG_X is not set` line); pass a .config or a fragment")


def make_args(srctree: str, objtree: str, arch: str, tc: Toolchain) -> list[str]:
    return ["make", "-C", srctree, f"O={objtree}", f"ARCH={arch}",
            f"LLVM={tc.suffix}"]


def run(cmd: list[str], log_path: str, what: str, env: dict | None = None,
        cwd: str | None = None, progress=None) -> None:
    """Runs a Kbuild step, its output to log_path; a failure names the step.

    progress: optional function returning a short status, logged every 10 s.
    """
    logging.info("%s ...", what)
    start = time.monotonic()
    with open(log_path, "ab") as log:
        log.write(("$ " + shlex.join(cmd) + "\n").encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=cwd)
        while True:
            try:
                proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                if progress:
                    logging.info("  %s (%.0f s)", progress(), time.monotonic() - start)
    if proc.returncode != 0:
        with open(log_path, "rb") as log:
            tail = log.read().decode(errors="replace").splitlines()[-15:]
        raise TranslationError(
            f"Kbuild step failed: {what}\n  command: {shlex.join(cmd)}\n"
            f"  log: {log_path}\n  last lines:\n    " + "\n    ".join(tail))
    logging.info("%s done in %.1f s", what, time.monotonic() - start)


def read_config(path: str, unset: bool = False) -> dict[str, str]:
    """CONFIG_X -> value of a .config or fragment; with unset, also
    `# CONFIG_X is not set` as CONFIG_X -> "n"."""
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("CONFIG_") and "=" in line:
                k, _, v = line.partition("=")
                values[k] = v
            elif unset and line.startswith("# CONFIG_") and line.endswith(" is not set"):
                values[line[2:-len(" is not set")]] = "n"
    return values


# What kthinlto does not build for modules yet: option -> why.  Each is
# refused at translation, naming the option and the fix.
_UNSUPPORTED_WITH_MODULES = {
    "CONFIG_MODVERSIONS": "symbol versions (Kbuild computes their CRCs with genksyms in each compile)",
    "CONFIG_MODULE_SIG_ALL": "modules signed at modules_install",
    "CONFIG_MODULE_COMPRESS_GZIP": "modules compressed at modules_install",
    "CONFIG_MODULE_COMPRESS_XZ": "modules compressed at modules_install",
    "CONFIG_MODULE_COMPRESS_ZSTD": "modules compressed at modules_install",
    "CONFIG_DEBUG_INFO_BTF_MODULES": "BTF in modules (pahole against vmlinux in each .ko link)",
}


def unsupported_options(config: dict[str, str]) -> str:
    """What a final .config asks that kthinlto cannot build yet, with the
    fix, or ""."""
    if config.get("CONFIG_MODULES") != "y":
        return ""
    for option, what in _UNSUPPORTED_WITH_MODULES.items():
        if config.get(option) == "y":
            return (f"{option} is set: kthinlto does not build {what} yet; add "
                    f"`# {option} is not set` to a fragment")
    return ""


def dropped_options(requested: dict[str, str], final: dict[str, str]) -> list[str]:
    """Requested options (CONFIG_X -> value, "n" for not set) that the final
    .config does not have as asked, as CONFIG_X=value (sorted).  An option
    asked as a module (=m) and built in (=y: another option selects it) is
    in the kernel as asked for: built_in_options names those."""
    return sorted(f"{k}={v}" if v != "n" else f"{k} unset"
                  for k, v in requested.items()
                  if final.get(k, "n") != v and (v, final.get(k)) != ("m", "y"))


def built_in_options(requested: dict[str, str], final: dict[str, str]) -> list[str]:
    """Options asked as modules (=m) that the final .config builds in (sorted)."""
    return sorted(k for k, v in requested.items() if v == "m" and final.get(k) == "y")


def fragment_requests(fragments) -> dict[str, dict[str, str]]:
    """Per fragment, the options it decides: those no later fragment sets
    again (merge_config.sh's order: the last value wins)."""
    asked = {}
    for fragment in fragments:
        for k, v in read_config(fragment, unset=True).items():
            asked[k] = (fragment, v)
    out: dict[str, dict[str, str]] = {f: {} for f in fragments}
    for k, (fragment, v) in asked.items():
        out[fragment][k] = v
    return out


def shim_path(shim_dir: str, environ) -> str:
    """PATH with the shims first: Kbuild runs clang-N, ld.lld-N, llvm-nm-N
    and perl by those names (LLVM=-N), finds the shims, and saves the same
    commands as with the real tools."""
    return shim_dir + os.pathsep + environ.get("PATH", os.defpath)


@dataclasses.dataclass(frozen=True)
class Probes:
    """Compiler probes answered from a cache for one translation.

    shim_dir: the shims named like the tools; cache: the directory of
    memoized answers (KTHINLTO_PROBE_CACHE).
    """
    shim_dir: str
    cache: str

    def env(self) -> dict[str, str]:
        return kbuild_env(os.environ, KTHINLTO_PROBE_CACHE=self.cache,
                          PATH=shim_path(self.shim_dir, os.environ))


def configure(srctree: str, objtree: str, arch: str, tc: Toolchain,
              spec: ConfigSpec, log_path: str, jobs: int = 1,
              probes: Probes | None = None) -> None:
    """Writes objtree/.config: the spec plus Clang ThinLTO, via Kbuild.

    jobs: make's -j (kconfig's own host programs build in parallel).
    probes: when given, Kconfig's compiler probes go through the shim's
    cache (plain Kbuild otherwise, as the benchmarks' Kbuild side runs).
    """
    base = make_args(srctree, objtree, arch, tc) + [f"-j{jobs}"]
    env = probes.env() if probes else None
    config = os.path.join(objtree, ".config")
    if spec.config_file:
        with open(spec.config_file) as src, open(config, "w") as dst:
            dst.write(src.read())
        run(base + ["olddefconfig"], log_path, "make olddefconfig", env=env)
    else:
        run(base + [spec.target], log_path, f"make {spec.target}", env=env)
    if spec.fragments:
        # In the object tree: merge_config.sh makes its scratch file in the
        # working directory, and the source tree may be read-only (or shared).
        run([os.path.join(srctree, "scripts/kconfig/merge_config.sh"), "-m",
             "-O", objtree, config, *spec.fragments], log_path,
            "merge config fragments", env=env, cwd=objtree)
    run([os.path.join(srctree, "scripts/config"), "--file", config,
         "-d", "LTO_NONE", "-d", "LTO_CLANG_FULL", "-e", "LTO_CLANG_THIN"],
        log_path, "enable CONFIG_LTO_CLANG_THIN", env=env)
    run(base + ["olddefconfig"], log_path, "make olddefconfig", env=env)
    final = read_config(config)
    if final.get("CONFIG_LTO_CLANG_THIN") != "y":
        raise TranslationError(
            f"{config}: this configuration cannot enable CONFIG_LTO_CLANG_THIN "
            f"(ARCH={arch} needs ARCH_SUPPORTS_LTO_CLANG_THIN and a clang that "
            "supports it); choose an architecture and config with Clang ThinLTO")
    refused = unsupported_options(final)
    if refused:
        raise TranslationError(f"{config}: {refused}")
    for fragment, requested in fragment_requests(spec.fragments).items():
        built_in = built_in_options(requested, final)
        if built_in:
            logging.warning("%s: %s asked as module%s, built in: another option "
                            "selects %s", fragment, ", ".join(built_in),
                            "s" if len(built_in) > 1 else "", "them" if len(built_in) > 1 else "it")
        dropped = dropped_options(requested, final)
        if dropped:
            raise TranslationError(
                f"{fragment}: {', '.join(dropped)} did not survive `make "
                f"olddefconfig` for ARCH={arch} (not an option of this "
                "architecture and kernel, or its dependencies are not met); "
                "remove or fix them in the fragment")


def shim_names(tc: Toolchain) -> list[str]:
    """The tools the shims stand in for, by the names Kbuild runs them
    (its CC, LD and NM with LLVM=-N, and PERL), and modpost (given to
    Kbuild as MODPOST by record_goals)."""
    return [tc.clang, tc.ld, tc.nm, "perl", MODPOST_SHIM]


# The shim's name as Kbuild's $(MODPOST) during translation.
MODPOST_SHIM = "modpost"
# Kbuild's own modpost, objtree-relative (scripts/Makefile.modpost).
MODPOST = "scripts/mod/modpost"


def write_shims(shim_dir: str, tc: Toolchain) -> None:
    """Links to shim.sh named like the tools they stand in for: the shim
    takes its role and the tool from $0."""
    os.makedirs(shim_dir, exist_ok=True)
    for real in shim_names(tc):
        os.symlink(SHIM, os.path.join(shim_dir, real))


def probes_for(work: str, tc: Toolchain) -> Probes:
    """The shims of a translation's work directory, with an empty probe cache."""
    shim_dir = os.path.join(work, "shims")
    write_shims(shim_dir, tc)
    cache = os.path.join(work, "probes")
    os.makedirs(cache, exist_ok=True)
    return Probes(shim_dir=shim_dir, cache=cache)


def record_goals(config: dict[str, str], shim_dir: str) -> list[str]:
    """What the recorded build makes: vmlinux.o, and with CONFIG_MODULES
    the modules to the end of modfinal.  Kbuild's modpost is the shim's
    (shim_dir/modpost): the tree's modpost over placeholder objects, for
    the .mod.c files modfinal compiles; each .mod.o compile and .ko link
    is recorded like every other compile and link, and Kbuild saves the
    modpost command the modpost action runs (module_final_of)."""
    if config.get("CONFIG_MODULES") != "y":
        return ["vmlinux_o"]
    return ["vmlinux_o", "modules", f"MODPOST={os.path.join(shim_dir, MODPOST_SHIM)}"]


def saved_command(objtree: str, target: str) -> str:
    """The command Kbuild saved for target (objtree-relative) in its
    .<name>.cmd (`cmd_T := ...` in 6.1, `savedcmd_T := ...` from 6.3), as
    the shell runs it (make's `$$` is `$`)."""
    head, tail = os.path.split(target)
    path = os.path.join(objtree, head, f".{tail}.cmd")
    try:
        with open(path) as f:
            first = f.readline()
    except FileNotFoundError:
        raise TranslationError(f"{path}: Kbuild saved no command for {target}; "
                               "was the translation's Kbuild run stopped early?") from None
    name, sep, cmd = first.partition(" := ")
    if not sep or name not in (f"cmd_{target}", f"savedcmd_{target}"):
        raise TranslationError(f"{path}: not a command Kbuild saved for {target}: {first.strip()}")
    return cmd.strip().replace("$$", "$")


def modules_order(objtree: str) -> list[str]:
    """Kbuild's modules.order as module names (dir/x.ko), in its order; []
    without modules.  (6.1 lists dir/x.ko, 6.2 and later dir/x.o.)"""
    path = os.path.join(objtree, "modules.order")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        names = [os.path.normpath(line.strip()) for line in f if line.strip()]
    return [n[:-len(".o")] + ".ko" if n.endswith(".o") else n for n in names]


def response_file(path: str, objtree: str) -> list[str]:
    """The objects a linker response file lists (a module's .mod file,
    objtree-relative), in order."""
    with open(os.path.join(objtree, path)) as f:
        return f.read().split()


# The placeholder every recorded ThinLTO compile and link answers with: no
# symbol, and a module license, without which Kbuild's modpost (run on
# placeholders for the .mod.c files modfinal compiles) writes none.
STUB_SOURCE = ('static const char __attribute__((used, section(".modinfo"), aligned(1)))\n'
               'kthinlto_placeholder[] = "license=GPL";\n')


def recorded_build(srctree: str, objtree: str, arch: str, tc: Toolchain,
                   work: str, jobs: int, log_path: str, kcflags: str = "") -> str:
    """Runs `make vmlinux_o` (and `modules`, record_goals) with the shims;
    returns the record directory.

    The shims are work/shims, first on PATH (probes_for made them, with
    the probe cache that configure already filled).  kcflags: Kbuild's KCFLAGS, given on
    make's command line (the environment's is ignored).
    """
    log_dir = os.path.join(work, "records")
    os.makedirs(log_dir, exist_ok=True)
    stub = os.path.join(work, "stub.o")
    subprocess.run([tc.clang, "-c", "-x", "c", "-", "-o", stub], input=STUB_SOURCE,
                   text=True, check=True)
    env = kbuild_env(os.environ, KTHINLTO_SHIM_LOG=log_dir,
                     KTHINLTO_SHIM_STUB=stub,
                     KTHINLTO_PROBE_CACHE=os.path.join(work, "probes"),
                     PATH=shim_path(os.path.join(work, "shims"), os.environ))
    goals = record_goals(read_config(os.path.join(objtree, ".config")),
                         os.path.join(work, "shims"))
    cmd = make_args(srctree, objtree, arch, tc) + [f"-j{jobs}"] + goals
    if kcflags:
        cmd.append(f"KCFLAGS={kcflags}")
    made = " ".join(g for g in goals if "=" not in g)
    run(cmd, log_path, f"Kbuild: record objects and flags (make {made})",
        env=env, progress=lambda: f"{len(os.listdir(log_dir))} compiles recorded")
    return log_dir


def normalize_objtool(objtree: str, tc: Toolchain) -> None:
    """Strips the debug info and build id from Kbuild's objtool, in place.

    objtool is an input of the final link, so its bytes are in that
    action's cache key; Kbuild builds it with -g, which records the source
    and object tree paths (and a build id over them).  Without them, two
    translations of the same tree at different paths give the same objtool.
    """
    path = os.path.join(objtree, "tools/objtool/objtool")
    if not os.path.exists(path):
        return
    proc = subprocess.run([tc.strip, "--strip-debug", "--remove-section=.note.gnu.build-id",
                           path], capture_output=True, text=True)
    if proc.returncode != 0:
        raise TranslationError(f"{path}: {tc.strip} failed: {proc.stderr.strip()}")


# What the translated object tree's text files say instead of this
# machine's paths (normalize_paths): paths that exist nowhere, so that a
# Kbuild run on the tree (the hand-off, kbuild_tail.sh) finds every saved
# command changed and every dependency gone, as it would at any other path.
TREE_TOKENS = {"objtree": "/kthinlto-objtree", "work": "/kthinlto-translation",
               "srctree": "/kthinlto-srctree"}


def tree_paths(work: str, srctree: str) -> list[tuple[str, str]]:
    """A translation's paths and their TREE_TOKENS, the object tree (which
    lies inside work) first."""
    return [(os.path.join(work, "obj"), TREE_TOKENS["objtree"]), (work, TREE_TOKENS["work"]),
            (srctree, TREE_TOKENS["srctree"])]


def normalize_paths(objtree: str, work: str, srctree: str,
                    earlier: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """Makes the object tree's bytes the same at any path, in place; returns
    the files it cannot (objtree-relative, sorted), for the hand-off's
    inputs to leave out.

    earlier: (work, srctree) of the translations an incremental one
    resumed (incremental.py): their binaries may still name those.

    Kbuild saves commands, dependency lists and generated makefiles that
    name the source tree, the object tree and the translation's directory
    (work, whose shims a saved modpost command names).  In every text file
    (no NUL byte) those become TREE_TOKENS, modification time and mode
    kept (make compares the times).  A binary that names one (objects of
    host tools and assembly built with -g: objtool's, realmode's, kconfig's)
    is left as it is and listed.  Run last: the translation reads saved
    commands before.
    """
    pairs = []
    for w, src in ((work, srctree), *earlier):
        for path, token in tree_paths(w, src):
            for p in dict.fromkeys((os.path.abspath(path), os.path.realpath(path))):
                pairs.append((p.encode(), token.encode()))
    # The longest first: the object tree lies inside work.
    pairs.sort(key=lambda pair: -len(pair[0]))
    unchanged = []
    for path in tree_files(objtree):
        with open(path, "rb") as f:
            data = f.read()
        if not any(old in data for old, _ in pairs):
            continue
        if b"\0" in data:
            unchanged.append(os.path.relpath(path, objtree))
            continue
        for old, new in pairs:
            data = data.replace(old, new)
        st = os.stat(path)
        tmp = path + ".kthinlto-tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, st.st_mode & 0o7777)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, path)
    return sorted(unchanged)


def tree_files(objtree: str):
    """Every regular file of an object tree (not Kbuild's `source` link to
    the source tree, nor any other link)."""
    for root, dirs, files in os.walk(objtree):
        dirs.sort()
        if root == objtree and "source" in dirs:
            dirs.remove("source")
        for name in sorted(files):
            path = os.path.join(root, name)
            if not os.path.islink(path):
                yield path


def kconfig_files(objtree: str) -> list[str]:
    """The Kconfig files of the configuration (srctree-relative), as Kbuild
    listed them in include/config/auto.conf.cmd (deps_config)."""
    files = []
    with open(os.path.join(objtree, "include/config/auto.conf.cmd")) as f:
        lines = iter(f)
        for line in lines:
            if line.startswith("deps_config :="):
                break
        for line in lines:
            name = line.strip().rstrip("\\").strip()
            if not name:
                break
            files.append(name)
    return sorted(files)


def archive_members(archive: str, objtree: str, tc: Toolchain) -> list[str]:
    proc = subprocess.run([tc.ar, "t", archive], cwd=objtree,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise TranslationError(f"{os.path.join(objtree, archive)}: "
                               f"{tc.ar} t failed: {proc.stderr.strip()}")
    return [os.path.normpath(m) for m in proc.stdout.split()]


def check_tools(tc: Toolchain) -> None:
    import shutil
    for tool in (tc.clang, tc.ld, tc.ar, tc.scan_deps, "make", "perl"):
        if shutil.which(tool) is None:
            raise TranslationError(
                f"{tool} not found on PATH; install it (./kthin setup installs "
                f"clang{tc.suffix}, lld{tc.suffix}, llvm{tc.suffix} and "
                f"clang-tools{tc.suffix} from Debian)")


def log_to_stderr() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="kthinlto: %(message)s")
