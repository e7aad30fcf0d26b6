"""tools/kthinlto/shim.sh, run for real with /bin/sh.

The records it writes are read back with records.read_records, so these
tests also check that the shim and the Python reader agree on the format.
"""

import os
import subprocess

import pytest

from tools.kthinlto import records
from tools.kthinlto.records import Record

SHIM = os.path.join(os.path.dirname(records.__file__), "shim.sh")
STUB = b"\x7fELF placeholder object"


class Env:
    """A working directory, record directory, stub and fake tools in tmp_path."""

    def __init__(self, tmp_path):
        self.root = tmp_path
        self.cwd = os.path.realpath(tmp_path / "work")
        self.log = tmp_path / "records"
        self.stub = tmp_path / "stub.o"
        self.marker = tmp_path / "real-tool-called"
        os.mkdir(self.cwd)
        self.log.mkdir()
        self.stub.write_bytes(STUB)
        # The real tool must not run: exits with an error if it does.
        self.failing_tool = self._script(
            "failing-tool", "echo 'real tool called' >&2\nexit 97\n")
        # The real tool may run: writes its arguments to the marker file.
        self.marker_tool = self._script(
            "marker-tool", f"printf '%s\\n' \"$@\" > '{self.marker}'\n")

    def _script(self, name, body):
        path = self.root / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
        return str(path)

    def run(self, role, real, *args, log=True):
        env = dict(os.environ, KTHINLTO_SHIM_STUB=str(self.stub))
        env.pop("KTHINLTO_SHIM_LOG", None)
        if log:
            env["KTHINLTO_SHIM_LOG"] = str(self.log)
        return subprocess.run(["/bin/sh", SHIM, role, real, *args], cwd=self.cwd,
                              env=env, capture_output=True, text=True)

    def records(self):
        return records.read_records(str(self.log))

    def real_tool_args(self):
        """Arguments the marker tool was called with (None if never called)."""
        if not self.marker.exists():
            return None
        return self.marker.read_text().splitlines()

    def path(self, name):
        return os.path.join(self.cwd, name)


@pytest.fixture
def env(tmp_path):
    return Env(tmp_path)


LTO_COMPILE = ("-c", "-flto=thin", "-o", "out.o", "x.c", "-Wp,-MMD,dep.d")


# cc: ThinLTO compiles are recorded and stubbed

def test_cc_lto_compile_does_not_call_real_compiler(env):
    proc = env.run("cc", env.failing_tool, *LTO_COMPILE)
    assert proc.returncode == 0, proc.stderr
    assert "real tool called" not in proc.stderr


def test_cc_lto_compile_copies_stub_to_output(env):
    env.run("cc", env.failing_tool, *LTO_COMPILE)
    with open(env.path("out.o"), "rb") as f:
        assert f.read() == STUB


def test_cc_lto_compile_writes_dep_file_naming_source(env):
    env.run("cc", env.failing_tool, *LTO_COMPILE)
    with open(env.path("dep.d")) as f:
        assert f.read() == "out.o: x.c\n"


def test_cc_lto_compile_writes_one_bitcode_record_with_cwd_and_argv(env):
    env.run("cc", env.failing_tool, *LTO_COMPILE)
    assert env.records() == [Record("bitcode", env.cwd, LTO_COMPILE)]


def test_cc_lto_compile_leaves_only_the_rec_file_in_log_dir(env):
    env.run("cc", env.failing_tool, *LTO_COMPILE)
    [name] = os.listdir(env.log)
    assert name.endswith(".rec")


def test_cc_flto_after_fno_lto_is_bitcode(env):
    args = ("-fno-lto", "-flto=thin", "-c", "-o", "kernel/umh.o", "/k/src/kernel/umh.c")
    os.mkdir(env.path("kernel"))
    proc = env.run("cc", env.failing_tool, *args)
    assert proc.returncode == 0, proc.stderr
    assert [r.kind for r in env.records()] == ["bitcode"]


# cc: native compiles run for real and are recorded

def test_cc_native_compile_calls_real_compiler(env):
    args = ("-c", "-o", "entry.o", "entry.S")
    proc = env.run("cc", env.marker_tool, *args)
    assert proc.returncode == 0, proc.stderr
    assert env.real_tool_args() == list(args)


def test_cc_native_compile_writes_native_record(env):
    args = ("-D__ASSEMBLY__", "-c", "-o", "entry.o", "entry.S")
    env.run("cc", env.marker_tool, *args)
    assert env.records() == [Record("native", env.cwd, args)]


def test_cc_fno_lto_after_flto_is_native(env):
    args = ("-flto=thin", "-fno-lto", "-c", "-o", "a.o", "a.c")
    env.run("cc", env.marker_tool, *args)
    assert env.real_tool_args() == list(args)
    assert [r.kind for r in env.records()] == ["native"]


def test_cc_native_compile_returns_real_compiler_exit_status(env):
    proc = env.run("cc", env.failing_tool, "-c", "-o", "a.o", "a.S")
    assert proc.returncode == 97


# cc: anything else just runs the real tool

def test_cc_without_dash_c_execs_real_tool_and_records_nothing(env):
    args = ("-flto=thin", "-E", "-o", "out.i", "x.c")
    proc = env.run("cc", env.marker_tool, *args)
    assert proc.returncode == 0, proc.stderr
    assert env.real_tool_args() == list(args)
    assert env.records() == []


def test_cc_compile_to_non_object_output_execs_real_tool(env):
    args = ("-c", "-flto=thin", "-o", "x.lst", "x.c")
    env.run("cc", env.marker_tool, *args)
    assert env.real_tool_args() == list(args)
    assert env.records() == []


def test_cc_without_log_dir_execs_real_tool(env):
    proc = env.run("cc", env.marker_tool, *LTO_COMPILE, log=False)
    assert proc.returncode == 0, proc.stderr
    assert env.real_tool_args() == list(LTO_COMPILE)
    assert not os.path.exists(env.path("out.o"))


# ld

VMLINUX_LINK = ("-m", "elf_x86_64", "-r", "-o", "vmlinux.o",
                "--whole-archive", "vmlinux.a", "--no-whole-archive")


def test_ld_vmlinux_o_link_is_recorded_as_link(env):
    proc = env.run("ld", env.failing_tool, *VMLINUX_LINK)
    assert proc.returncode == 0, proc.stderr
    assert env.records() == [Record("link", env.cwd, VMLINUX_LINK)]


def test_ld_vmlinux_o_link_writes_stub_as_vmlinux_o(env):
    env.run("ld", env.failing_tool, *VMLINUX_LINK)
    with open(env.path("vmlinux.o"), "rb") as f:
        assert f.read() == STUB


def test_ld_other_link_execs_real_linker_and_records_nothing(env):
    args = ("-m", "elf_x86_64", "-o", "arch/x86/boot/setup.elf", "a.o")
    proc = env.run("ld", env.marker_tool, *args)
    assert proc.returncode == 0, proc.stderr
    assert env.real_tool_args() == list(args)
    assert env.records() == []


# perl

INITCALLS = ("/k/src/scripts/generate_initcall_order.pl", "vmlinux.a", "lib/lib.a")


def test_perl_initcall_order_prints_sections_without_real_perl(env):
    proc = env.run("perl", env.failing_tool, *INITCALLS)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("SECTIONS {")


def test_perl_initcall_order_is_recorded_as_initcalls(env):
    env.run("perl", env.failing_tool, *INITCALLS)
    assert env.records() == [Record("initcalls", env.cwd, INITCALLS)]


def test_perl_other_script_execs_real_perl_and_records_nothing(env):
    args = ("/k/src/scripts/headers_check.pl", "include")
    env.run("perl", env.marker_tool, *args)
    assert env.real_tool_args() == list(args)
    assert env.records() == []


# Invoked through a link named like the tool: role and tool come from $0.

def _link_named(env, name, target_body):
    """A bin/ with the real tool NAME (a script) and a shim link of that name."""
    real_dir = env.root / "real"
    real_dir.mkdir(exist_ok=True)
    tool = real_dir / name
    tool.write_text("#!/bin/sh\n" + target_body)
    tool.chmod(0o755)
    shim_dir = env.root / "shims"
    shim_dir.mkdir(exist_ok=True)
    link = shim_dir / name
    if not os.path.lexists(link):
        os.symlink(SHIM, link)
    return str(link), str(real_dir)


def test_link_named_like_clang_records_lto_compile_as_bitcode(env):
    link, real_dir = _link_named(env, "clang-19", "exit 97\n")
    environ = dict(os.environ, KTHINLTO_SHIM_STUB=str(env.stub),
                   KTHINLTO_SHIM_LOG=str(env.log),
                   PATH=real_dir + os.pathsep + os.environ["PATH"])
    proc = subprocess.run([link, *LTO_COMPILE], cwd=env.cwd, env=environ,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert env.records() == [Record("bitcode", env.cwd, LTO_COMPILE)]


def test_link_named_like_ld_runs_the_real_linker_for_other_links(env):
    link, real_dir = _link_named(env, "ld.lld-19", f"echo linked > '{env.marker}'\n")
    environ = dict(os.environ, KTHINLTO_SHIM_STUB=str(env.stub),
                   KTHINLTO_SHIM_LOG=str(env.log),
                   PATH=real_dir + os.pathsep + os.environ["PATH"])
    proc = subprocess.run([link, "-o", "vdso.so", "a.o"], cwd=env.cwd,
                          env=environ, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert env.marker.read_text() == "linked\n"
    assert env.records() == []


def test_records_do_not_overwrite_each_other(env):
    # Many compiles from one process tree: every record survives.
    for i in range(5):
        env.run("cc", env.failing_tool, "-c", "-flto=thin", "-o", f"o{i}.o", f"s{i}.c")
    outs = sorted(r.argv[3] for r in env.records())
    assert outs == [f"o{i}.o" for i in range(5)]


# cc: compiler probes are memoized within a translation

class Probes:
    """A fake compiler that counts its calls, answers on both streams and
    exits 3; the shim runs with a probe cache and no record directory."""

    def __init__(self, env):
        self.env = env
        self.count = env.root / "calls"
        self.cache = env.root / "probe-cache"
        self.cache.mkdir()
        self.tool = env._script(
            "counting-cc",
            f"echo x >> '{self.count}'\n"
            "echo \"out:$*:$(cat)\"\necho err >&2\nexit 3\n")

    def run(self, *args, stdin="", cache=True):
        environ = dict(os.environ)
        environ.pop("KTHINLTO_SHIM_LOG", None)
        environ.pop("KTHINLTO_PROBE_CACHE", None)
        if cache:
            environ["KTHINLTO_PROBE_CACHE"] = str(self.cache)
        return subprocess.run(["/bin/sh", SHIM, "cc", self.tool, *args],
                              cwd=self.env.cwd, env=environ, input=stdin,
                              capture_output=True, text=True)

    def calls(self):
        return len(self.count.read_text().splitlines()) if self.count.exists() else 0


@pytest.fixture
def probes(env):
    return Probes(env)


def test_repeated_probe_runs_the_compiler_once_with_same_answer(probes):
    # Kconfig's cc-option: a scratch .tmp_<pid> directory differs per call.
    first = probes.run("-Werror", "-mfoo", "-c", "-x", "c", "/dev/null", "-o", ".tmp_11/tmp.o")
    second = probes.run("-Werror", "-mfoo", "-c", "-x", "c", "/dev/null", "-o", ".tmp_22/tmp.o")
    assert probes.calls() == 1
    assert first.returncode == second.returncode == 3
    assert first.stdout == second.stdout and "out:" in first.stdout
    assert first.stderr == second.stderr == "err\n"


def test_probe_with_other_flags_or_stdin_is_asked_again(probes):
    probes.run("-E", "-x", "c", "-", stdin="int a;")
    probes.run("-E", "-x", "c", "-", stdin="int b;")
    probes.run("-E", "-x", "c", "-", stdin="int a;")
    probes.run("-E", "-x", "c", "-", "-Wall", stdin="int a;")
    assert probes.calls() == 3


def test_probe_reads_its_stdin_on_a_miss(probes):
    proc = probes.run("-E", "-x", "c", "-", "-o", "-", stdin="int stdin_text;")
    assert "int stdin_text;" in proc.stdout


def test_compiles_of_real_files_are_never_memoized(probes):
    for _ in range(2):
        probes.run("-c", "-x", "c", "x.c", "-o", "/dev/null")
        probes.run("-c", "/dev/null", "-o", "out.o")
        probes.run("-Wp,-MMD,d.d", "-E", "-x", "c", "/dev/null")
    assert probes.calls() == 6


def test_without_probe_cache_every_probe_runs(probes):
    for _ in range(2):
        probes.run("--version", cache=False)
    assert probes.calls() == 2


# nm: placeholders answered without the real nm

def _run_nm(env, body, *args):
    """Runs the shim as llvm-nm-19, with `body` as the real llvm-nm."""
    link, real_dir = _link_named(env, "llvm-nm-19", body)
    environ = dict(os.environ, KTHINLTO_SHIM_STUB=str(env.stub),
                   KTHINLTO_SHIM_LOG=str(env.log),
                   PATH=real_dir + os.pathsep + os.environ["PATH"])
    return subprocess.run([link, *args], cwd=env.cwd, env=environ,
                          capture_output=True, text=True)


def test_nm_of_a_placeholder_prints_nothing_without_real_nm(env):
    (env.root / "work" / "sys.o").write_bytes(STUB)
    proc = _run_nm(env, "echo 'real nm' >&2\nexit 97\n", "sys.o")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_nm_of_a_real_object_runs_the_real_nm(env):
    (env.root / "work" / "real.o").write_bytes(b"\x7fELF real object")
    body = "echo \"nm $*\"\n"
    assert _run_nm(env, body, "real.o").stdout == "nm real.o\n"
    assert (_run_nm(env, body, "--defined-only", "real.o").stdout
            == "nm --defined-only real.o\n")


def test_nm_options_alone_go_to_the_real_nm(env):
    # Kconfig asks `$(NM) --help` whether nm is LLVM's.
    proc = _run_nm(env, "echo 'LLVM nm help'\n", "--help")
    assert proc.stdout == "LLVM nm help\n"


def test_link_named_like_ld_records_a_module_link_and_answers_a_placeholder(env):
    # A module of several objects: `ld -r -o dir/x.o @dir/x.mod`.
    link, real_dir = _link_named(env, "ld.lld-19", "exit 97\n")
    environ = dict(os.environ, KTHINLTO_SHIM_STUB=str(env.stub),
                   KTHINLTO_SHIM_LOG=str(env.log),
                   PATH=real_dir + os.pathsep + os.environ["PATH"])
    (env.root / "work" / "dev.o").write_bytes(env.stub.read_bytes())
    (env.root / "work" / "fuse.mod").write_text("dev.o\n")
    argv = ("-m", "elf_x86_64", "-r", "-o", "fuse.o", "@fuse.mod")
    proc = subprocess.run([link, *argv], cwd=env.cwd, env=environ,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert env.records() == [Record("link", env.cwd, argv)]
    assert (env.root / "work" / "fuse.o").read_bytes() == env.stub.read_bytes()


def test_link_found_on_path_runs_the_next_tool_on_path(env):
    # Kbuild finds the shim first on PATH; the shim must not find itself.
    link, real_dir = _link_named(env, "ld.lld-19", f"echo linked > '{env.marker}'\n")
    shim_dir = os.path.dirname(link)
    environ = dict(os.environ, KTHINLTO_SHIM_STUB=str(env.stub),
                   KTHINLTO_SHIM_LOG=str(env.log),
                   PATH=os.pathsep.join([shim_dir, real_dir, os.environ["PATH"]]))
    proc = subprocess.run(["ld.lld-19", "-o", "vdso.so", "a.o"], cwd=env.cwd,
                          env=environ, capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0, proc.stderr
    assert env.marker.read_text() == "linked\n"


def test_link_named_like_ld_runs_a_relocatable_link_of_real_objects(env):
    # tools/objtool's `ld -r -o fixdep-in.o fixdep.o`: a host object.
    link, real_dir = _link_named(env, "ld.lld-19", f"echo linked > '{env.marker}'\n")
    (env.root / "work" / "fixdep.o").write_bytes(b"\x7fELF host object")
    environ = dict(os.environ, KTHINLTO_SHIM_STUB=str(env.stub),
                   KTHINLTO_SHIM_LOG=str(env.log),
                   PATH=real_dir + os.pathsep + os.environ["PATH"])
    proc = subprocess.run([link, "-r", "-o", "fixdep-in.o", "fixdep.o"], cwd=env.cwd,
                          env=environ, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert env.marker.read_text() == "linked\n"
    assert env.records() == []
