"""tools/kthinlto/actions/initcall_order.py: the initcall-ordering linker script.

Listings as initcall_scan.sh writes them (the __initcall__ lines of
`llvm-nm --defined-only`); the expected scripts are what Kbuild's
scripts/generate_initcall_order.pl prints for the same nm output.  The e2e
suite compares the result on a real kernel with Kbuild's own file.
"""

import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "kthinlto", "actions", "initcall_order.py")


def order(tmp_path, listings: dict[str, str]):
    paths = []
    for name, text in listings.items():
        path = tmp_path / (name + ".initcalls")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths.append(str(path))
    out = tmp_path / "out" / ".tmp_initcalls.lds"
    out.parent.mkdir(exist_ok=True)
    proc = subprocess.run([sys.executable, SCRIPT, f"--out={out}", *paths],
                          capture_output=True, text=True)
    return proc, (out.read_text() if out.exists() else None)


def test_link_order_then_counter_within_an_object_and_levels_sorted_as_strings(tmp_path):
    proc, lds = order(tmp_path, {
        "init/main.o": "0000000000000000 d __initcall__kmod_main__12_30_late_init7\n"
                       "0000000000000008 d __initcall__kmod_main__3_20_early_init1\n",
        "lib/empty.o": "",
        "kernel/a.o": "0000000000000000 d __initcall__kmod_a__9_5_con_setupcon\n"
                      "0000000000000008 d __initcall__kmod_a__10_6_a_sync6s\n"
                      "0000000000000010 d __initcall__kmod_a__2_7_a_early_thingearly\n"
                      "0000000000000018 d __initcall__kmod_a__1_8_a_fs_rootfs\n"
                      "0000000000000020 d __initcall__kmod_a__4_9_a_init1\n",
    })
    assert proc.returncode == 0, proc.stderr
    assert lds == (
        "SECTIONS {\n"
        "\t.initcall1.init : {\n"
        "\t\t*(.initcall1.init..kmod_main__3_20_early_init) ;\n"
        "\t\t*(.initcall1.init..kmod_a__4_9_a_init) ;\n"
        "\t}\n"
        "\t.initcall6s.init : {\n"
        "\t\t*(.initcall6s.init..kmod_a__10_6_a_sync) ;\n"
        "\t}\n"
        "\t.initcall7.init : {\n"
        "\t\t*(.initcall7.init..kmod_main__12_30_late_init) ;\n"
        "\t}\n"
        "\t.con_initcall.init : {\n"
        "\t\t*(.con_initcall.init..kmod_a__9_5_con_setup) ;\n"
        "\t}\n"
        "\t.initcallearly.init : {\n"
        "\t\t*(.initcallearly.init..kmod_a__2_7_a_early_thing) ;\n"
        "\t}\n"
        "\t.initcallrootfs.init : {\n"
        "\t\t*(.initcallrootfs.init..kmod_a__1_8_a_fs_) ;\n"
        "\t}\n"
        "}\n")


def test_counters_sort_as_numbers_and_archive_members_start_afresh(tmp_path):
    # "lib.a" as nm prints an archive: a "member:" line before each member;
    # the same counter in two members is two initcalls.
    proc, lds = order(tmp_path, {
        "lib/lib.a": "\nlib/x.o:\n"
                     "0000000000000000 d __initcall__kmod_x__10_1_x_init6\n"
                     "0000000000000008 d __initcall__kmod_x__9_2_x_first6\n"
                     "\nlib/y.o:\n"
                     "0000000000000000 d __initcall__kmod_y__10_3_y_init6\n",
    })
    assert proc.returncode == 0, proc.stderr
    assert lds == (
        "SECTIONS {\n"
        "\t.initcall6.init : {\n"
        "\t\t*(.initcall6.init..kmod_x__9_2_x_first) ;\n"
        "\t\t*(.initcall6.init..kmod_x__10_1_x_init) ;\n"
        "\t\t*(.initcall6.init..kmod_y__10_3_y_init) ;\n"
        "\t}\n"
        "}\n")


def test_lines_that_are_not_initcall_symbols_are_ignored(tmp_path):
    proc, lds = order(tmp_path, {
        "a.o": "0000000000000000 T __initcall__not_a_symbol_line\n"
               "                 U __initcall__kmod_u__1_1_undefined6\n"
               "0000000000000000 d __initcall__kmod_a__1_1_a6\n",
    })
    assert proc.returncode == 0, proc.stderr
    # "U" is upper case: the script's pattern wants a lower-case letter
    # before the blanks (the "T" line has no counter at all).
    assert lds == ("SECTIONS {\n\t.initcall6.init : {\n"
                   "\t\t*(.initcall6.init..kmod_a__1_1_a) ;\n\t}\n}\n")


def test_an_initcall_without_a_level_names_the_listing(tmp_path):
    proc, lds = order(tmp_path, {"drivers/bad.o": "0000 d __initcall__kmod_bad__1_2_bad_init\n"})
    assert proc.returncode == 1
    assert lds is None
    assert proc.stderr.count("\n") == 1
    assert "drivers/bad.o.initcalls: invalid initcall name bad_init" in proc.stderr


def test_no_initcalls_at_all_is_an_error(tmp_path):
    proc, lds = order(tmp_path, {"a.o": "", "b.o": "0000 T main\n"})
    assert proc.returncode == 1
    assert lds is None
    assert "no initcalls" in proc.stderr


def test_a_missing_listing_is_named(tmp_path):
    out = tmp_path / "out.lds"
    proc = subprocess.run([sys.executable, SCRIPT, f"--out={out}", str(tmp_path / "gone.o.initcalls")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "gone.o.initcalls" in proc.stderr
    assert not out.exists()


def test_arguments_from_a_params_file_as_bazel_passes_them(tmp_path):
    listing = tmp_path / "a.o.initcalls"
    listing.write_text("0000 d __initcall__kmod_a__1_1_a6\n")
    out = tmp_path / "out.lds"
    params = tmp_path / "out.lds-0.params"
    params.write_text(f"--out={out}\n{listing}\n")
    proc = subprocess.run([sys.executable, SCRIPT, f"@{params}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == ("SECTIONS {\n\t.initcall6.init : {\n"
                               "\t\t*(.initcall6.init..kmod_a__1_1_a) ;\n\t}\n}\n")
