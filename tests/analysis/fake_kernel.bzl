"""A tiny translated kernel, written by hand: two bitcode objects, one
native, one prebuilt; two link units: vmlinux.o (lib/b.o a lazy lib.a
member, objtool and initcall ordering) and a module, extra/unit.ko, whose
unit links lib/b.o whole and nothing after.  Its steps after the link
(`modules`): Kbuild's modpost command, what modpost reads for srcversion
(the module's .mod, a stand-in .cmd under srcversion/, a source and a
header), two saved modules.builtin commands, and its modfinal: the .mod.o
compile (flagset 4, reading include/x.h) and the .ko link with
obj/scripts/module.lds, linking arch/x86/entry/entry.o after the .mod.o
(standing in for 6.12's .module-common.o).  obj/ also holds what the
modules rule takes from the tree: scripts/mod/modpost, modules.order
(listing extra/unit.ko) and include/config/kernel.release.  Laid out as
tools/kthinlto/emit.py lays out a generated repository (src/, obj/,
srcversion/, a view of the config header for kernel/a.o under autoconf/ and
the KERNEL dict of kernel.bzl), schema 6."""

KERNEL = {
    "schema": 6,
    "modules": {
        "modpost": "scripts/mod/modpost -M -m -o Module.symvers -T modules.order vmlinux.o",
        "builtin": [
            "llvm-objcopy -j .modinfo -O binary vmlinux.o modules.builtin.modinfo",
            "tr '\\0' '\\n' < modules.builtin.modinfo | sed -n 's/\\.file=.*//p' > modules.builtin",
        ],
        "finals": [{
            "module": "extra/unit.ko",
            "flags": 4,
            "inputs": [2],
            "ldflags": ["-r", "-m", "elf_x86_64"],
            "script": 5,
            "common": ["arch/x86/entry/entry.o"],
        }],
        "srcversion": [6, 7, 1, 2],
    },
    "objects": json.encode([
        {"path": "kernel/a.o", "bitcode": 1, "source": 0, "flags": 0, "be_flags": 1, "inputs": [0, 2, 8], "prebuilt": 0, "autoconf": 8},
        {"path": "arch/x86/entry/entry.o", "bitcode": 0, "source": 3, "flags": 2, "be_flags": 2, "inputs": [2, 3], "prebuilt": 0, "autoconf": -1},
        {"path": "arch/arm64/kernel/pi/p.pi.o", "bitcode": 0, "source": 4, "flags": 3, "be_flags": 3, "inputs": [], "prebuilt": 1, "autoconf": -1},
        {"path": "lib/b.o", "bitcode": 1, "source": 1, "flags": 0, "be_flags": 1, "inputs": [1, 2], "prebuilt": 0, "autoconf": -1},
    ]),
    "files": [
        "src/kernel/a.c",
        "src/lib/b.c",
        "src/include/x.h",
        "src/arch/x86/entry/entry.S",
        "obj/arch/arm64/kernel/pi/p.pi.o",
        "obj/scripts/module.lds",
        "obj/extra/unit.mod",
        "srcversion/lib/.b.o.cmd",
        "autoconf/0123abcd/generated/autoconf.h",
    ],
    "flagsets": [
        ["-I%{src}/include", "-I%{obj}/include", "-D__KERNEL__", "-Os", "-flto=thin"],
        ["-Os"],
        ["-D__ASSEMBLY__", "-I%{src}/include", "-Wa,-I%{obj}"],
        [],
        ["-I%{src}/include", "-D__KERNEL__", "-DMODULE", "-Os"],
    ],
    "units": [
        {
            "name": "vmlinux.o",
            "ldflags": ["-m", "elf_x86_64", "-z", "noexecstack"],
            "whole": ["kernel/a.o", "arch/x86/entry/entry.o", "arch/arm64/kernel/pi/p.pi.o"],
            "lazy": ["lib/b.o"],
            "scripts": ["initcalls"],
            "post_link": ["obj/tools/objtool/objtool", "--hacks=jump_label", "--link"],
            "module": "",
        },
        {
            "name": "extra/unit.o",
            "ldflags": ["-m", "elf_x86_64"],
            "whole": ["lib/b.o"],
            "lazy": [],
            "scripts": [],
            "post_link": [],
            "module": "extra/unit.ko",
        },
    ],
    "config": {"arch": "x86_64", "srcarch": "x86", "image": "bzImage", "image_path": "arch/x86/boot/bzImage"},
    "build_env": {"KBUILD_BUILD_USER": "kthinlto"},
    "kconfig_files": [],
}
