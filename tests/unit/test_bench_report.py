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
