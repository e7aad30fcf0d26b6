"""Analysis tests of the phases on the fake kernel (fake_kernel.bzl).

Each test analyses one phase's target and checks the actions it registers:
mnemonics and counts, the command line, the declared inputs and outputs
(that no host path reaches an action: tests/unit/test_analysis.py, with
the end-to-end tests' rule, tools/kthinlto/buildgraph.py).  They run in seconds and build
nothing (`bazel test //tests/analysis:all`).
"""

load(":fake_kernel.bzl", "KERNEL")

_PKG = "tests/analysis"

def _by_mnemonic(actions):
    result = {}
    for a in actions:
        result.setdefault(a.mnemonic, []).append(a)
    return result

def _paths(files):
    return sorted([f.path for f in files.to_list()])

def _counts(failures, actions, expected):
    got = {m: len(v) for m, v in _by_mnemonic(actions).items()}
    for m, n in expected.items():
        if got.get(m, 0) != n:
            failures.append("%d %s actions, expected %d (all: %s)" % (got.get(m, 0), m, n, got))

def _check_frontend(actions, failures):
    for a in _by_mnemonic(actions).get("ThinLtoCompile", []):
        out = a.outputs.to_list()[0].path
        if not out.endswith("/objects/kernel/a.o"):
            continue

        # Its view of the config header first on the include path.
        want = ["-I%s/autoconf/0123abcd" % _PKG, "-I%s/src/include" % _PKG, "-I%s/obj/include" % _PKG, "-D__KERNEL__", "-Os", "-flto=thin", "-c", "-o", out, _PKG + "/src/kernel/a.c"]
        if a.argv[1:] != want:
            failures.append("kernel/a.o FE argv %s, expected clang %s" % (a.argv, want))
        inputs = [p for p in _paths(a.inputs) if p.startswith(_PKG + "/")]
        if inputs != [_PKG + "/autoconf/0123abcd/generated/autoconf.h", _PKG + "/src/include/x.h", _PKG + "/src/kernel/a.c"]:
            failures.append("kernel/a.o FE declares %s" % inputs)
    for a in _by_mnemonic(actions).get("NativeCompile", []):
        if "-D__ASSEMBLY__" not in a.argv or "-Wa,-I%s/obj" % _PKG not in a.argv:
            failures.append("native FE argv %s" % a.argv)

def _check_thin_link(actions, failures):
    for a in _by_mnemonic(actions).get("ThinLtoIndex", []):
        outs = [p.split("/vmlinux_o_thin_link/")[-1] for p in _paths(a.outputs)]
        if outs != ["kernel/a.o.thinlto.tar", "lib/b.o.thinlto.tar"]:
            failures.append("thin link writes %s, expected a bundle per bitcode object" % outs)
        fe = [p.split("/objects/")[-1] for p in _paths(a.inputs) if "/objects/" in p]
        if fe != ["arch/arm64/kernel/pi/p.pi.o", "arch/x86/entry/entry.o", "kernel/a.o", "lib/b.o"]:
            failures.append("thin link reads %s, expected every FE output" % fe)
        _check_action_python(a, "tools/kthinlto/actions/import_bundles.py", failures)
        named = [w.split("=")[0] for w in a.argv[4:9]]
        if named != ["--manifest", "--fe_dir", "--scratch", "--nm", "--ld"] or a.argv[9] != "--":
            failures.append("thin link's launcher arguments %s, expected named ones, then --" % a.argv[4:10])
        for tool in ["tools/kthinlto/bundle.py", "tools/kthinlto/__init__.py", "tools/__init__.py"]:
            if tool not in _paths(a.inputs):
                failures.append("thin link does not declare %s, which its launcher imports" % tool)

def _check_action_python(action, script, failures):
    """Checks that the action runs the declared interpreter on script.

    It declares both and the standard library, so the host's python3 is no
    hidden input.
    """
    argv = action.argv
    if not argv[0].endswith("external/kthinlto_python/bin/python3") or argv[1:4] != ["-B", "-S", script]:
        failures.append("%s runs %s, expected the declared python3 -B -S %s" % (action.mnemonic, argv[:4], script))
    inputs = _paths(action.inputs)
    for want in [argv[0], script]:
        if want not in inputs:
            failures.append("%s does not declare %s" % (action.mnemonic, want))
    if not [p for p in inputs if p.startswith("external/kthinlto_python/lib/python3.") and p.endswith("/tarfile.py")]:
        failures.append("%s does not declare the standard library" % action.mnemonic)
    if action.env.get("PYTHONHOME") != "external/kthinlto_python":
        failures.append("%s: PYTHONHOME=%s, expected the declared interpreter's" % (action.mnemonic, action.env.get("PYTHONHOME")))

def _check_backend(actions, failures):
    for a in _by_mnemonic(actions).get("ThinLtoBackend", []):
        module = a.outputs.to_list()[0].path.split("/vmlinux_o_be/")[-1]
        own = [p.split("/bin/" + _PKG + "/")[-1] for p in _paths(a.inputs) if "/bin/" + _PKG + "/" in p]
        want = ["objects/" + module, "vmlinux_o_thin_link/" + module + ".thinlto.tar"]
        if own != want:
            failures.append("%s BE declares %s, expected exactly %s" % (module, own, want))
        out = a.outputs.to_list()[0].path
        want = ["-Os", "-Wno-unused-command-line-argument", "-fno-lto", "-x", "ir", "-ffunction-sections", "-fdata-sections", "-fthinlto-index=%s.thinlto.bc" % module, "-c"]
        if not a.argv[5].endswith("external/kthinlto_llvm/bin/clang") or a.argv[6:-2] != want:
            failures.append("%s BE runs %s, expected clang %s" % (module, a.argv[5:-2], want))
        if not (a.argv[-2].startswith("-o../") and a.argv[-2].endswith("/" + out)) or a.argv[-1] != module:
            failures.append("%s BE ends %s" % (module, a.argv[-2:]))

def _check_final_link(actions, failures):
    for a in _by_mnemonic(actions).get("RelocatableLink", []):
        if a.argv[-3:] != [_PKG + "/obj/tools/objtool/objtool", "--hacks=jump_label", "--link"]:
            failures.append("objtool runs as %s" % a.argv[-3:])
        inputs = _paths(a.inputs)
        for want in ["/vmlinux_o_be/kernel/a.o", "/vmlinux_o_be/lib/b.o", "/objects/arch/x86/entry/entry.o", "/vmlinux_o_initcalls/.tmp_initcalls.lds", _PKG + "/obj/tools/objtool/objtool"]:
            if not [p for p in inputs if p.endswith(want)]:
                failures.append("final link does not declare %s" % want)
        if [p for p in inputs if p.endswith(".thinlto.tar")]:
            failures.append("final link declares bundles")

def _check_initcalls(actions, failures):
    by = _by_mnemonic(actions)
    listings = []
    for a in by.get("InitcallScan", []):
        listings += [p.split("/vmlinux_o_initcalls/")[-1] for p in _paths(a.outputs)]
        fe = [p.split("/objects/")[-1] for p in _paths(a.inputs) if "/objects/" in p]
        if len(fe) != 4:
            failures.append("initcall scan reads %s, expected the 4 FE outputs" % fe)
    if sorted(listings) != sorted([o + ".initcalls" for o in ["kernel/a.o", "arch/x86/entry/entry.o", "arch/arm64/kernel/pi/p.pi.o", "lib/b.o"]]):
        failures.append("initcall listings %s" % listings)
    for a in by.get("InitcallOrder", []):
        if [p.split("/vmlinux_o_initcalls/")[-1] for p in _paths(a.outputs)] != [".tmp_initcalls.lds"]:
            failures.append("initcall order writes %s" % _paths(a.outputs))
        if len([p for p in _paths(a.inputs) if p.endswith(".initcalls")]) != len(listings):
            failures.append("initcall order does not read every listing")
        _check_action_python(a, "tools/kthinlto/actions/initcall_order.py", failures)

def _check_second_unit(actions, failures):
    by = _by_mnemonic(actions)
    for a in by.get("ThinLtoIndex", []):
        fe = [p.split("/objects/")[-1] for p in _paths(a.inputs) if "/objects/" in p]
        if fe != ["lib/b.o"]:
            failures.append("second unit's thin link reads %s, expected its one member" % fe)
    for a in by.get("ThinLtoBackend", []):
        if not a.outputs.to_list()[0].path.endswith("/extra_unit_o_be/lib/b.o"):
            failures.append("second unit's backend writes %s" % _paths(a.outputs))
    for a in by.get("RelocatableLink", []):
        if not a.outputs.to_list()[0].path.endswith(_PKG + "/extra/unit.o"):
            failures.append("second unit links %s" % _paths(a.outputs))
        if [w for w in a.argv if "objtool" in w]:
            failures.append("second unit runs a post-link step: %s" % a.argv)
        inputs = _paths(a.inputs)
        if [p for p in inputs if p.endswith(".lds")] or not [p for p in inputs if p.endswith("/extra_unit_o_be/lib/b.o")]:
            failures.append("second unit's link declares %s" % inputs)

        # A module: its link takes Kbuild's symbol order (modpost's depends).
        if not [p for p in inputs if p.endswith(_PKG + "/extra/unit.o.symbol_order")]:
            failures.append("second unit's link does not read its symbol order: %s" % inputs)
    for a in by.get("SymbolOrder", []):
        _check_action_python(a, "tools/kthinlto/actions/symbol_order.py", failures)
        reads = [w.split("=")[0] + "=" + w.split("/bin/" + _PKG + "/")[-1] for w in a.argv if w.startswith(("--member=", "--linked="))]
        if reads != ["--member=objects/lib/b.o", "--linked=extra_unit_o_be/lib/b.o"]:
            failures.append("second unit's symbol order reads %s, expected its FE bitcode, then what it links" % reads)

def _check_modules(actions, failures):
    # Which of these actions may run remotely (Modpost, ModulesBuiltin and
    # ModulesInstall not, the compile and link yes) is checked by
    # tests/unit/test_analysis.py with aquery: Bazel 4's Action has no
    # execution_info.
    by = _by_mnemonic(actions)
    own = "/bin/%s/modules/" % _PKG
    for a in by.get("Modpost", []):
        inputs = _paths(a.inputs)
        for want in ["/bin/%s/vmlinux.o" % _PKG, "/bin/%s/extra/unit.o" % _PKG, _PKG + "/obj/scripts/mod/modpost", _PKG + "/obj/modules.order"]:
            if not [p for p in inputs if p.endswith(want)]:
                failures.append("modpost does not declare %s (declares %s)" % (want, inputs))
        outs = [p.split(own)[-1] for p in _paths(a.outputs)]
        if outs != ["Module.symvers", "extra/unit.mod.c"]:
            failures.append("modpost writes %s, expected Module.symvers and the module's .mod.c" % outs)
        _check_action_python(a, "tools/kthinlto/actions/kbuild_cmd.py", failures)
        if a.argv[5] != "scripts/mod/modpost -M -m -o Module.symvers -T modules.order vmlinux.o":
            failures.append("modpost runs %s, expected kbuild_cmd.py with Kbuild's saved command" % a.argv[:6])

        # What it reads for srcversion, where Kbuild's modpost finds it in
        # the object tree (the source tree through `source`).
        for rel, path in [("extra/unit.mod", "obj/extra/unit.mod"), ("lib/.b.o.cmd", "srcversion/lib/.b.o.cmd"), ("source/lib/b.c", "src/lib/b.c"), ("source/include/x.h", "src/include/x.h")]:
            if "place:%s=%s/%s" % (rel, _PKG, path) not in a.argv or _PKG + "/" + path not in inputs:
                failures.append("modpost does not place %s at %s: %s" % (path, rel, a.argv))
    mod_c = [p for a in by.get("Modpost", []) for p in _paths(a.outputs) if p.endswith(".mod.c")]
    mod_o = []
    for a in by.get("ModuleInfoCompile", []):
        out = a.outputs.to_list()[0].path
        mod_o.append(out)
        if not out.endswith(own + "extra/unit.mod.o"):
            failures.append("module info compile writes %s" % out)
        want = ["-I%s/src/include" % _PKG, "-D__KERNEL__", "-DMODULE", "-Os", "-c", "-o", out] + mod_c
        if not a.argv[0].endswith("external/kthinlto_llvm/bin/clang") or a.argv[1:] != want:
            failures.append("module info compile runs %s, expected clang %s" % (a.argv, want))
        inputs = _paths(a.inputs)
        for want in mod_c + [_PKG + "/src/include/x.h", a.argv[0]]:
            if want not in inputs:
                failures.append("module info compile does not declare %s" % want)
    kos = []
    for a in by.get("ModuleLink", []):
        out = a.outputs.to_list()[0].path
        kos.append(out)
        if not out.endswith(own + "extra/unit.ko"):
            failures.append("module link writes %s" % out)
        unit = [p for p in _paths(a.inputs) if p.endswith("/bin/%s/extra/unit.o" % _PKG)]
        common = [p for p in _paths(a.inputs) if p.endswith("/objects/arch/x86/entry/entry.o")]
        want = ["-r", "-m", "elf_x86_64", "-T", _PKG + "/obj/scripts/module.lds", "-o", out] + unit + mod_o + common
        if not a.argv[0].endswith("external/kthinlto_llvm/bin/ld.lld") or a.argv[1:] != want:
            failures.append("module link runs %s, expected ld.lld %s" % (a.argv, want))
        inputs = _paths(a.inputs)
        if len(common) != 1:
            failures.append("module link declares %s, expected the FE output linked into every module" % inputs)
        for want in unit + mod_o + [_PKG + "/obj/scripts/module.lds", a.argv[0]]:
            if want not in inputs:
                failures.append("module link does not declare %s" % want)
        if len(unit) != 1:
            failures.append("module link declares %s, expected the module unit's object" % inputs)
    builtin = []
    for a in by.get("ModulesBuiltin", []):
        builtin = _paths(a.outputs)
        if [p.split(own)[-1] for p in builtin] != ["modules.builtin", "modules.builtin.modinfo"]:
            failures.append("modules.builtin's action writes %s" % builtin)
        inputs = [p for p in _paths(a.inputs) if not p.startswith("external/kthinlto_python/")]
        if len(inputs) != 2 or not inputs[0].endswith("/bin/%s/vmlinux.o" % _PKG) or inputs[1] != "tools/kthinlto/actions/kbuild_cmd.py":
            failures.append("modules.builtin's action declares %s, expected vmlinux.o and its launcher" % inputs)
        _check_action_python(a, "tools/kthinlto/actions/kbuild_cmd.py", failures)
        saved = " && ".join(KERNEL["modules"]["builtin"])
        if a.argv[5] != saved:
            failures.append("modules.builtin's action runs %s, expected kbuild_cmd.py with Kbuild's saved commands" % a.argv[:6])
    for a in by.get("ModulesInstall", []):
        _check_action_python(a, "tools/kthinlto/actions/modules_install.py", failures)
        inputs = _paths(a.inputs)
        for want in kos + builtin + [_PKG + "/obj/include/config/kernel.release", _PKG + "/obj/modules.order"]:
            if want not in inputs:
                failures.append("modules install does not declare %s" % want)
        if not kos or "extra/unit.ko=" + kos[0] not in a.argv:
            failures.append("modules install is not given every module: %s" % a.argv)
        if [w for w in a.argv if w.startswith("--builtin=")] != ["--builtin=" + p for p in builtin] or not builtin:
            failures.append("modules install is not given the built-in lists: %s" % a.argv)
        if [p.split(own)[-1] for p in _paths(a.outputs)] != ["install"]:
            failures.append("modules install writes %s" % _paths(a.outputs))

_CHECKS = {
    "second_unit": _check_second_unit,
    "backend": _check_backend,
    "final_link": _check_final_link,
    "frontend": _check_frontend,
    "initcalls": _check_initcalls,
    "modules": _check_modules,
    "thin_link": _check_thin_link,
}

def _phase_test_impl(ctx):
    actions = ctx.attr.target_under_test.actions
    failures = []
    _counts(failures, actions, {m: int(n) for m, n in ctx.attr.counts.items()})
    _CHECKS[ctx.attr.phase](actions, failures)
    return [AnalysisTestResultInfo(
        success = not failures,
        message = "\n".join(["%s: %s" % (ctx.label, f) for f in failures]),
    )]

phase_test = rule(
    implementation = _phase_test_impl,
    doc = "Checks the actions one phase's target registers (analysis only).",
    attrs = {
        "counts": attr.string_dict(doc = "mnemonic -> how many actions of it (as a string)."),
        "phase": attr.string(mandatory = True, values = sorted(_CHECKS.keys())),
        "target_under_test": attr.label(mandatory = True),
    },
    analysis_test = True,
    test = True,
)
