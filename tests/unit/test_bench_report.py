"""bench/report.py: what the bench prints about the edit's backends."""

from bench import report


def test_print_reasons_names_counts_and_the_first_objects(capsys):
    why = {"index + imported bitcode of kernel/sys.o": ["d.o", "c.o", "b.o", "a.o"],
           "index": ["kernel/sys.o"]}
    changes = {"same bytes": ["a.o", "b.o", "c.o"],
               "symbols changed": ["d.o", "kernel/sys.o"]}
    report.print_reasons(why, changes)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "      4 re-ran: index + imported bitcode of kernel/sys.o changed (a.o, b.o, c.o, ...)",
        "      1 re-ran: index changed (kernel/sys.o)",
        "their objects, against the ones they replaced:",
        "      3 same bytes (a.o, b.o, c.o)",
        "      2 symbols changed (d.o, kernel/sys.o)",
    ]


def test_print_rows_gives_each_ratio(capsys):
    report.print_rows([("cold build to vmlinux.o", 970.8, 939.5), ("null build", 0.5, 0.0)])
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[-1] == "1.033"
    assert out[2].split()[-1] == "n/a"


def test_print_counts_and_backends_line_up(capsys):
    report.print_counts([("modules installed (.ko)", 111, 110)])
    report.print_backends([("cold build (all)", 440, 261),
                           ("re-run after the edit of fs/fuse/control.c", 0, 1)], 111)
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[-2:] == ["111", "110"]
    assert out[2].split()[-2:] == ["vmlinux.o", "modules"]
    assert out[3].split()[-2:] == ["440", "261"] and out[4].split()[-2:] == ["0", "1"]
    assert out[5].strip() == "(111 units)"
    # The numbers sit in the columns print_rows uses, after the longest name.
    assert len(out[1]) == len(out[4]) == report.NAME + 1 + 10 + 1 + 10
    assert len("after a one-line edit of fs/fuse/control.c") <= report.NAME
