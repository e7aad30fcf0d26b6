"""Modules phase: the loadable modules (.ko) from the modules' link units.

Each module's ThinLTO phases are the link unit's own actions (FE, thin
link, BE, relocatable link and objtool: link_units.bzl).  What Kbuild does
after them is split the way Kbuild's own incremental build splits it, so
that an edit re-runs only what it changes:

  Modpost         Kbuild's saved modpost command (its .Module.symvers.cmd)
                  over vmlinux.o and every module's object: Module.symvers
                  and each module's .mod.c.  vmlinux.o, not vmlinux: the
                  modules do not wait for vmlinux's final link.
  ModuleInfoCompile, one per module: the .mod.c to .mod.o, with the flags
                  Kbuild's modfinal compiled it with (recorded).
  ModuleLink      one per module: the .ko (`ld.lld -r -T scripts/module.lds`
                  of the module's object and its .mod.o), with Kbuild's
                  recorded flags.  A module whose object and .mod.c did not
                  change is a cache hit.
  ModulesBuiltin  modules.builtin from vmlinux.o (Kbuild's saved commands).
  ModulesInstall  modules_install's layout over the .ko files and those
                  lists, then depmod.  A vmlinux edit that changes no
                  export and no built-in module re-runs neither.

Targets: NAME (the modules as `make modules_install` lays them out:
lib/modules/<release>/kernel/..., modules.order, modules.builtin and
modules.dep) and one per module, named by its path (fs/fuse/fuse.ko).
"""

load(":common.bzl", "TOOLCHAIN_TYPE", "action_python", "expand", "kernel_root", "llvm_toolchain", "merged_env")
load(":contract.bzl", "MNEMONIC")
load(":frontend.bzl", "frontend_action")
load(":providers.bzl", "KernelObjectsInfo")
load(":schema.bzl", "decode")

def _in_objtree(path):
    """Where modpost finds a file of the kernel package, objtree-relative.

    src/x is source/x (the source tree through Kbuild's `source` link);
    obj/x and srcversion/x are x.
    """
    top, _, rest = path.partition("/")
    return ("source/" + rest) if top == "src" else rest

# The environment of Kbuild's saved commands: the host's shell tools.
_SHELL_ENV = {"PATH": "/bin:/usr/bin", "LC_ALL": "C"}

def _kbuild_cmd_args(ctx, work, cmd):
    """The arguments of tools/kthinlto/actions/kbuild_cmd.py.

    Args:
      ctx: the rule context.
      work: its scratch object tree.
      cmd: the shell command Kbuild saved.

    Returns:
      (head, files): head is the interpreter's flags, the tool, WORK and
      CMD; the caller adds the place: and take: arguments to files, which
      becomes a param file when the command line would be too long.
    """
    head = ctx.actions.args()
    head.add_all(action_python(ctx).flags)
    head.add(ctx.file._kbuild_cmd)
    head.add(work)
    head.add(cmd)
    files = ctx.actions.args()
    files.use_param_file("@%s")
    files.set_param_file_format("multiline")
    return head, files

def _modpost_action(ctx, root, kos, mod_c, srcversion):
    """Kbuild's modpost, its saved command run in a scratch object tree.

    Args:
      ctx: the rule context.
      root: the kernel package's execroot-relative directory.
      kos: the modules, in modules.order.
      mod_c: module -> its .mod.c File.
      srcversion: the Files modpost reads for srcversion (each .mod, the
        stand-in .cmd files, sources and headers), in the kernel package.

    Returns:
      Module.symvers.
    """
    symvers = ctx.actions.declare_file(ctx.attr.name + "/Module.symvers")
    head, args = _kbuild_cmd_args(ctx, symvers.path + ".work", ctx.attr.modpost)
    places = [
        ("modules.order", ctx.file.modules_order),
        ("scripts/mod/modpost", ctx.file.modpost_tool),
        ("vmlinux.o", ctx.file.vmlinux_o),
    ]
    for ko, unit in zip(kos, ctx.files.units):
        places.append((ko[:-len(".ko")] + ".o", unit))
    for f in srcversion:
        places.append((_in_objtree(f.path[len(root) + 1:]), f))
    for rel, f in places:
        args.add("place:%s=%s" % (rel, f.path))
    args.add("take:Module.symvers=" + symvers.path)
    for ko in kos:
        args.add("take:%s.mod.c=%s" % (ko[:-len(".ko")], mod_c[ko].path))
    python = action_python(ctx)
    ctx.actions.run(
        executable = python.interpreter,
        arguments = [head, args],
        inputs = depset([f for _, f in places] + [ctx.file._kbuild_cmd], transitive = [python.files]),
        outputs = [symvers] + mod_c.values(),
        env = merged_env(_SHELL_ENV, python.env),
        # Local, remotely cached: one short serial step over vmlinux.o and
        # every module object, all outputs of local links already; shipping
        # them to a worker would cost more than the step.
        execution_requirements = {"no-remote-exec": "1"},
        mnemonic = MNEMONIC.MODPOST,
        progress_message = "Running Kbuild's modpost over %d modules of %s" % (len(kos), ctx.label),
    )
    return symvers

def _final_actions(ctx, tc, root, ko, unit, final, mod_c, flagsets, files, common):
    """Kbuild's modfinal for one module: .mod.c -> .mod.o -> .ko.

    common: the FE outputs linked into every .ko after the .mod.o.
    """
    stem = ctx.attr.name + "/" + ko[:-len(".ko")]
    mod_o = ctx.actions.declare_file(stem + ".mod.o")
    out = ctx.actions.declare_file(ctx.attr.name + "/" + ko)

    # The .mod.c to bitcode, as the FE compiles every object (remotable).
    frontend_action(
        ctx,
        tc,
        flags = [expand(f, root) for f in flagsets[final["flags"]]],
        source = mod_c,
        inputs = [mod_c] + [files[i] for i in final["inputs"]],
        out = mod_o,
        bitcode = True,
        module = ko,
        mnemonic = MNEMONIC.MODULE_INFO_COMPILE,
    )
    script = files[final["script"]]
    ld = ctx.actions.args()
    ld.add_all([expand(f, root) for f in final["ldflags"]])
    ld.add("-T", script)
    ld.add("-o", out)
    ld.add_all([unit, mod_o] + common)
    ctx.actions.run(
        executable = tc.ld_lld,
        arguments = [ld],
        inputs = depset([unit, mod_o, script] + common, transitive = [tc.files]),
        outputs = [out],
        env = tc.env,
        # Remote-executable, like the compile: the declared ld.lld, the
        # module's object, its .mod.o and the linker script.
        mnemonic = MNEMONIC.MODULE_LINK,
        progress_message = "Linking module %s" % ko,
    )
    return out

def _builtin_action(ctx):
    """The built-in modules' lists from vmlinux.o's .modinfo.

    modules.builtin and modules.builtin.modinfo, by Kbuild's saved commands
    (Makefile.vmlinux_o's).

    Returns:
      The two Files, in that order.
    """
    outs = [ctx.actions.declare_file(ctx.attr.name + "/" + n) for n in _BUILTIN]
    head, args = _kbuild_cmd_args(ctx, outs[0].path + ".work", " && ".join(ctx.attr.builtin))
    args.add("place:vmlinux.o=" + ctx.file.vmlinux_o.path)
    args.add_all(["take:%s=%s" % (n, f.path) for n, f in zip(_BUILTIN, outs)])
    python = action_python(ctx)
    ctx.actions.run(
        executable = python.interpreter,
        arguments = [head, args],
        inputs = depset([ctx.file.vmlinux_o, ctx.file._kbuild_cmd], transitive = [python.files]),
        outputs = outs,
        env = merged_env(_SHELL_ENV, python.env),
        # Local, remotely cached: Kbuild's saved commands name the host's
        # llvm-objcopy-N, tr and sed, which are not inputs.
        execution_requirements = {"no-remote-exec": "1"},
        mnemonic = MNEMONIC.MODULES_BUILTIN,
        progress_message = "Listing the built-in modules of %s" % ctx.file.vmlinux_o.short_path,
    )
    return outs

# What modules_install copies from vmlinux.o's .modinfo (_builtin_action).
_BUILTIN = ["modules.builtin", "modules.builtin.modinfo"]

def _install_action(ctx, kos, files, builtin):
    python = action_python(ctx)
    tree = ctx.actions.declare_directory(ctx.attr.name + "/install")
    args = ctx.actions.args()
    args.add_all(python.flags)
    args.add(ctx.file._modules_install)
    args.add(tree.path, format = "--out=%s")
    args.add(ctx.file.kernel_release, format = "--release_file=%s")
    args.add(ctx.file.modules_order, format = "--order=%s")
    args.add_all(builtin, format_each = "--builtin=%s")
    args.add("--")
    args.add_all(["%s=%s" % (ko, f.path) for ko, f in zip(kos, files)])
    ctx.actions.run(
        executable = python.interpreter,
        arguments = [args],
        inputs = depset(
            files + builtin + [ctx.file._modules_install, ctx.file.kernel_release, ctx.file.modules_order],
            transitive = [python.files],
        ),
        outputs = [tree],
        env = merged_env(_SHELL_ENV, python.env),
        # Local, remotely cached: the host's depmod is not an input.
        execution_requirements = {"no-remote-exec": "1"},
        mnemonic = MNEMONIC.MODULES_INSTALL,
        progress_message = "Installing %d modules (modules_install, depmod)" % len(kos),
    )
    return tree

def _kernel_modules_impl(ctx):
    if len(ctx.attr.modules) != len(ctx.files.units):
        fail("kthinlto: %s: %d modules but %d unit outputs" % (ctx.label, len(ctx.attr.modules), len(ctx.files.units)))
    tc = llvm_toolchain(ctx)
    root = kernel_root(ctx)
    kos = ctx.attr.modules
    finals = json.decode(ctx.attr.finals)
    if [f["module"] for f in finals] != kos:
        fail("kthinlto: %s: the modules' final steps are not those of modules.order; run ./kthin configure again" % ctx.label)
    flagsets = json.decode(ctx.attr.flagsets)
    files = ctx.files.srcs
    mod_c = {ko: ctx.actions.declare_file(ctx.attr.name + "/" + ko[:-len(".ko")] + ".mod.c") for ko in kos}
    symvers = _modpost_action(ctx, root, kos, mod_c, [files[i] for i in json.decode(ctx.attr.srcversion)])
    by_path = {o.path: o for o in ctx.attr.objects[KernelObjectsInfo].objects}
    outs = []
    for ko, unit, final in zip(kos, ctx.files.units, finals):
        common = []
        for path in final["common"]:
            if path not in by_path:
                fail("kthinlto: %s links %s into %s, which is no object of the kernel" % (ctx.label, path, ko))
            common.append(by_path[path].bitcode or by_path[path].native)
        outs.append(_final_actions(ctx, tc, root, ko, unit, final, mod_c[ko], flagsets, files, common))
    tree = _install_action(ctx, kos, outs, _builtin_action(ctx))
    groups = {ko: depset([f]) for ko, f in zip(kos, outs)}
    groups["symvers"] = depset([symvers])
    groups["ko"] = depset(outs)
    return [
        DefaultInfo(files = depset([tree])),
        OutputGroupInfo(**groups),
    ]

kernel_modules_rule = rule(
    implementation = _kernel_modules_impl,
    doc = "The modules (.ko) and their modules_install tree: Kbuild's modpost, then per module its .mod.o and .ko, then the install.",
    attrs = {
        "builtin": attr.string_list(doc = "Kbuild's saved commands that make modules.builtin.modinfo and modules.builtin from vmlinux.o, in order."),
        "finals": attr.string(doc = "JSON list, per module in `modules` order: {module, flags (flagsets index), inputs and script (srcs indexes), ldflags}."),
        "flagsets": attr.string(doc = "JSON list of flag lists (with %{src}/%{obj} tokens)."),
        "kernel_release": attr.label(allow_single_file = True, mandatory = True, doc = "include/config/kernel.release of the object tree."),
        "modpost": attr.string(mandatory = True, doc = "Kbuild's saved modpost command, run in the object tree."),
        "modpost_tool": attr.label(allow_single_file = True, mandatory = True, doc = "The tree's scripts/mod/modpost (built by the translation)."),
        "modules": attr.string_list(doc = "The modules, objtree-relative (fs/fuse/fuse.ko), in modules.order."),
        "modules_order": attr.label(allow_single_file = True, mandatory = True, doc = "Kbuild's modules.order."),
        "objects": attr.label(providers = [KernelObjectsInfo], mandatory = True, doc = "Every object, compiled (the FE target): the ones modfinal links into every .ko."),
        "srcs": attr.label_list(allow_files = True, doc = "Every file `finals` and `srcversion` index."),
        "srcversion": attr.string(doc = "JSON list of srcs indexes: what modpost reads for srcversion (each .mod, the stand-in .cmd files, sources and headers)."),
        "units": attr.label_list(allow_files = [".o"], doc = "Each module's linked object, in the order of `modules`."),
        "vmlinux_o": attr.label(allow_single_file = True, mandatory = True, doc = "The final link's vmlinux.o (its exports, for modpost; its .modinfo, for modules.builtin)."),
        "_kbuild_cmd": attr.label(default = "//tools/kthinlto/actions:kbuild_cmd.py", allow_single_file = True),
        "_modules_install": attr.label(default = "//tools/kthinlto/actions:modules_install.py", allow_single_file = True),
    },
    toolchains = [TOOLCHAIN_TYPE],
)

def _no_modules_impl(ctx):
    fail("kthinlto: %s: this kernel has no modules (CONFIG_MODULES is not set, or no option is =m); declare a config with modules" % ctx.label)

_no_modules = rule(
    implementation = _no_modules_impl,
    doc = "What :modules is for a kernel without modules: an error that says so.",
)

def kernel_modules(name, kernel, objects, vmlinux_o):
    """The modules of a translated kernel: NAME, and a target per module.

    Args:
      name: the target of every module, installed (`modules`).
      kernel: the KERNEL dict of the generated kernel.bzl.
      objects: the FE target (kernel_link_units' name).
      vmlinux_o: the final link's vmlinux.o.
    """
    data = decode(kernel)
    units = [u for u in data.units if u.module]
    if not data.modules:
        _no_modules(name = name)
        return
    kernel_modules_rule(
        name = name,
        builtin = data.modules.builtin,
        finals = data.modules.finals_json,
        srcversion = data.modules.srcversion_json,
        flagsets = data.flagsets_json,
        kernel_release = "obj/include/config/kernel.release",
        modpost = data.modules.modpost,
        modpost_tool = "obj/scripts/mod/modpost",
        modules = [u.module for u in units],
        modules_order = "obj/modules.order",
        objects = objects,
        srcs = data.files,
        units = [":" + u.target for u in units],
        vmlinux_o = vmlinux_o,
    )
    for u in units:
        native.filegroup(
            name = u.module,
            srcs = [":" + name],
            output_group = u.module,
        )
