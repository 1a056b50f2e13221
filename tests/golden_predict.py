"""The golden corpus of ``sampleproject predict``: varied input files and what the CLI answered.

Each case is an input file (written to a temporary folder, named relatively so that messages
do not depend on where it is) and the arguments of one run. ``tests/golden/predict.json``
holds what ``predict`` printed for each (stdout, stderr, exit status, and the ``--output``
file when one is written), recorded from the code before the batch path was optimised;
``tests/test_predict_golden.py`` checks that every answer and message stays the same.

Re-record (only when a change of answers is intended)::

    .venv/bin/python -m tests.golden_predict
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sampleproject import cli, schema

GOLDEN = Path(__file__).parent / "golden" / "predict.json"
DATA = Path(schema.__file__).parent / "data" / "zoo.data"
HEADER = ",".join((schema.NAME_COLUMN, *schema.FEATURES))
LONG = 2500  # outputs longer than this are kept as their length and SHA-256 only


def zoo_rows() -> list[list[str]]:
    """The shipped data set's rows (name, 16 features, class), as strings."""
    with DATA.open(encoding="utf-8", newline="") as file:
        return [row for row in csv.reader(file) if row]


def csv_lines(count: int, start: int = 0) -> list[str]:
    """``count`` input rows (name and features), the data set's rows over and over."""
    rows = zoo_rows()
    return [",".join(rows[(start + i) % len(rows)][:-1]) + "\n" for i in range(count)]


def jsonl_lines(count: int, start: int = 0) -> list[str]:
    """``count`` JSON Lines input rows, the data set's rows over and over."""
    rows = zoo_rows()
    lines = []
    for i in range(count):
        row = rows[(start + i) % len(rows)]
        record: dict[str, object] = {schema.NAME_COLUMN: row[0]}
        record.update(zip(schema.FEATURES, map(int, row[1:-1]), strict=True))
        lines.append(json.dumps(record) + "\n")
    return lines


def replace_value(line: str, column: str, value: str) -> str:
    """A CSV ``line`` (in HEADER's order) with ``column`` set to ``value``."""
    fields = line.rstrip("\n").split(",")
    fields[HEADER.split(",").index(column)] = value
    return ",".join(fields) + "\n"


def with_value(line: str, key: str, value: str) -> str:
    """A JSON Lines ``line`` with ``key`` set to the JSON text ``value``."""
    record = json.loads(line)
    record[key] = "@@"
    return json.dumps(record).replace('"@@"', value) + "\n"


@dataclass(frozen=True)
class Case:
    """One run: an input file's name and content, and the arguments after ``predict``."""

    name: str
    file: str
    content: bytes
    args: tuple[str, ...] = ()
    stdin: bool = False  # read the file from stdin ('-') instead of by name


def _text(*lines: str) -> bytes:
    return "".join(lines).encode("utf-8")


def _both(name: str, file: str, content: bytes, *args: str) -> Iterator[Case]:
    """A valid input, predicted to CSV and to JSON Lines."""
    for fmt in ("csv", "jsonl"):
        yield Case(f"{name}-to-{fmt}", file, content, (*args, "--output-format", fmt))


def _valid_csv() -> Iterator[Case]:
    rows = csv_lines(101)
    yield from _both("csv-zoo", "a.csv", _text(HEADER + "\n", *rows))
    no_names = [line.split(",", 1)[1] for line in rows[:20]]
    yield from _both("csv-no-names", "a.csv", _text(HEADER.split(",", 1)[1] + "\n", *no_names))
    shuffled = [*schema.FEATURES[::-1], schema.NAME_COLUMN]
    reordered = [
        ",".join([*line.rstrip("\n").split(",")[:0:-1], line.split(",")[0]]) + "\n"
        for line in rows[:20]
    ]
    yield from _both("csv-reordered", "a.csv", _text(",".join(shuffled) + "\n", *reordered))
    spellings = [" 1", "1 ", "01", "1.0", "+1", "00", "-0", "0.0", "1.00000", "\t1", "1\t", "-0.0"]
    lax = [replace_value(rows[i], "hair", value) for i, value in enumerate(spellings)]
    lax += [replace_value(rows[i], "catsize", value) for i, value in enumerate(spellings)]
    legs = [" 4", "4 ", "04", "+4", "4.0", "2.00", "0.0", "-0", "8", "5", "6"]
    lax += [replace_value(rows[i], "legs", value) for i, value in enumerate(legs)]
    lax.append('"quoted",1,0,0,1,0,0,1,1,1,1,0,0,"4",0,0,"1"\n')
    yield from _both("csv-lax-values", "a.csv", _text(HEADER + "\n", *lax))
    blanks = [rows[0], "\n", rows[1], ",,,,,,,,,,,,,,,,\n", rows[2], " \n", "  ,  ,\n", rows[3]]
    yield from _both("csv-blank-lines", "a.csv", _text(HEADER + "\n", *blanks, "\n"))
    crlf = "".join(line.replace("\n", "\r\n") for line in [HEADER + "\n", *rows[:10]])
    yield from _both("csv-bom-crlf", "a.csv", b"\xef\xbb\xbf" + crlf.encode())
    yield from _both("csv-no-final-newline", "a.csv", _text(HEADER + "\n", *rows[:3]).rstrip())
    names = [
        '"comma, name"',
        '"quote "" name"',
        '"multi\nline"',
        '"multi\r\nline crlf"',
        "",
        "  spaced  ",
        "héllo wörld",
        "日本",
        "emoji 🦘",
        "tab\tname",
        "\"'single'\"",
    ]
    named = [f"{name},{rows[i].split(',', 1)[1]}" for i, name in enumerate(names)]
    yield from _both("csv-names", "a.csv", _text(HEADER + "\n", *named))
    yield from _both(
        "csv-ignored-columns",
        "a.csv",
        _text(
            "id," + HEADER + ",type\n",
            *(f"{i},{line.rstrip()},{i % 7 + 1}\n" for i, line in enumerate(rows[:10])),
        ),
        "--ignore-columns",
        "id,type",
    )
    yield from _both("csv-header-only", "a.csv", _text(HEADER + "\n"))
    yield from _both(
        "csv-header-spaces", "a.csv", _text(HEADER.replace(",", " , ") + "\n", *rows[:3])
    )
    yield from _both("csv-chunks", "a.csv", _text(HEADER + "\n", *csv_lines(9000)))
    yield Case(
        "csv-to-output-file", "a.csv", _text(HEADER + "\n", *rows[:30]), ("--output", "out.jsonl")
    )
    yield Case("csv-stdin", "a.csv", _text(HEADER + "\n", *rows[:30]), (), stdin=True)
    yield Case(
        "csv-forced-format", "a.txt", _text(HEADER + "\n", *rows[:5]), ("--input-format", "csv")
    )


def _valid_jsonl() -> Iterator[Case]:
    lines = jsonl_lines(101)
    yield from _both("jsonl-zoo", "a.jsonl", _text(*lines))
    base = lines[0]
    lax = [
        with_value(base, "hair", "true"),
        with_value(base, "hair", "false"),
        with_value(base, "hair", "1.0"),
        with_value(base, "hair", "0.0"),
        with_value(base, "hair", "-0.0"),
        with_value(base, "hair", '"1"'),
        with_value(base, "hair", '" 1"'),
        with_value(base, "hair", '"1.0"'),
        with_value(base, "legs", "4.0"),
        with_value(base, "legs", '"4"'),
        with_value(base, "legs", "false"),
        with_value(base, "catsize", "true"),
        with_value(base, "animal_name", "null"),
        with_value(base, "animal_name", '"\\u00e9t\\u00e9 \\ud83e\\udd98"'),
        with_value(base, "animal_name", '""'),
        with_value(base, "animal_name", '"quote \\" and \\\\ backslash, comma\\nnewline"'),
        '{"legs": 4}\n',
        '{"legs": 2, "feathers": 1, "eggs": true}\n',
        '{"catsize": 1, "legs": 0, "animal_name": "reordered"}\n',
        '  {"legs": 6, "airborne": 1}  \n',
        '{"legs":8,"aquatic":1,"predator":1}\n',
    ]
    yield from _both("jsonl-lax-values", "a.jsonl", _text(*lax))
    yield from _both(
        "jsonl-blank-lines", "a.jsonl", _text("\n", lines[0], "   \n", lines[1], "\n\n")
    )
    crlf = "".join(line.replace("\n", "\r\n") for line in lines[:10])
    yield from _both("jsonl-bom-crlf", "a.jsonl", b"\xef\xbb\xbf" + crlf.encode())
    yield from _both("jsonl-no-final-newline", "a.jsonl", _text(*lines[:3]).rstrip())
    ignored = [
        with_value(with_value(line, "id", str(i)), "type", '"x"')
        for i, line in enumerate(lines[:10])
    ]
    yield from _both(
        "jsonl-ignored-columns", "a.jsonl", _text(*ignored), "--ignore-columns", "id,type"
    )
    yield from _both(
        "jsonl-ignored-feature", "a.jsonl", _text(*lines[:10]), "--ignore-columns", "hair"
    )
    yield from _both("jsonl-empty", "a.jsonl", b"")
    yield from _both("jsonl-chunks", "a.jsonl", _text(*jsonl_lines(9000)))
    yield Case("jsonl-stdin", "a.jsonl", _text("\n", *lines[:30]), (), stdin=True)


def _bad_csv() -> Iterator[Case]:
    rows = csv_lines(20)
    head = HEADER + "\n"

    def bad(name: str, *lines: str, args: tuple[str, ...] = ()) -> Case:
        return Case(f"bad-csv-{name}", "a.csv", _text(*lines), args)

    yield bad("empty")
    yield bad("only-newline", "\n")
    yield bad("unknown-column", HEADER + ",wings\n", *rows[:2])
    yield bad("duplicate-column", HEADER + ",hair\n", *rows[:2])
    yield bad("missing-column", HEADER.replace(",legs", "") + "\n")
    yield bad("missing-columns", "animal_name,hair\n")
    yield bad("ignored-legs", head, *rows[:2], args=("--ignore-columns", "legs"))
    yield bad(
        "training-data",
        head.rstrip() + ",type\n",
        "aardvark," + rows[0].split(",", 1)[1].rstrip() + ",1\n",
    )
    yield bad("more-fields", head, rows[0], rows[1].rstrip() + ",1\n")
    yield bad("fewer-fields", head, rows[0], rows[1].rsplit(",", 1)[0] + "\n")
    yield bad("one-field", head, rows[0], "aardvark\n")
    yield bad("quote-inside", head, '"aard"vark' + rows[0][8:])
    yield bad("unterminated-quote", head, rows[0], '"aardvark,1,0\n')
    yield bad("nul", head, rows[0].replace("aardvark", "aard\0vark"))
    for column in ("hair", "fins", "legs", "catsize"):
        for value in (
            "2",
            "-1",
            "yes",
            "",
            " ",
            "1.5",
            "1e0",
            "1.",
            "0x1",
            "True",
            "nan",
            "\uff11",  # a full-width digit one
            "3",
            "1_0",
        ):
            yield bad(
                f"{column}-{value.strip() or 'blank' + str(len(value))}",
                head,
                rows[0],
                replace_value(rows[1], column, value),
            )
    yield bad(
        "two-bad-values-one-row",
        head,
        replace_value(replace_value(rows[0], "legs", "3"), "hair", "2"),
    )
    yield bad(
        "bad-value-then-field-count",
        head,
        replace_value(rows[0], "legs", "3"),
        *rows[1:5],
        rows[5].rstrip() + ",1\n",
    )
    yield bad(
        "bad-value-then-malformed",
        head,
        replace_value(rows[0], "legs", "3"),
        *rows[1:5],
        '"x"y,1\n',
    )
    late = csv_lines(5000)
    yield bad(
        "late-bad-value", head, *late[:4500], replace_value(late[4500], "legs", "7"), *late[4501:]
    )
    yield bad(
        "bad-value-and-field-count-in-later-chunk",
        head,
        replace_value(late[0], "legs", "3"),
        *late[1:4500],
        "x,1\n",
    )
    yield bad("late-field-count", head, *late[:4500], "x,1\n")
    yield Case("bad-csv-extension", "a.txt", _text(head, *rows[:2]))
    yield Case("bad-csv-not-utf8", "a.csv", _text(head, rows[0]) + "caf\xe9,1".encode("latin-1"))
    yield Case(
        "bad-csv-stdin",
        "a.csv",
        _text(head, rows[0], replace_value(rows[1], "legs", "3")),
        stdin=True,
    )
    crlf = "".join(
        line.replace("\n", "\r\n")
        for line in [head, *rows[:3], "\n", replace_value(rows[4], "eggs", "9")]
    )
    yield Case("bad-csv-bom-crlf", "a.csv", b"\xef\xbb\xbf" + crlf.encode())
    yield Case(
        "bad-csv-multiline-name",
        "a.csv",
        _text(
            head, '"two\nlines",' + rows[0].split(",", 1)[1], replace_value(rows[1], "legs", "3")
        ),
    )


def _bad_jsonl() -> Iterator[Case]:
    lines = jsonl_lines(20)

    def bad(name: str, *content: str, args: tuple[str, ...] = ()) -> Case:
        return Case(f"bad-jsonl-{name}", "a.jsonl", _text(*content), args)

    yield bad("invalid-json", lines[0], '{"legs": 4,\n')
    yield bad("truncated", lines[0], lines[1][:20])
    yield bad("single-quotes", "{'legs': 4}\n")
    yield bad("extra-data", '{"legs": 4} {"legs": 4}\n')
    for value, kind in (
        ("[1, 2]", "list"),
        ("4", "int"),
        ('"text"', "str"),
        ("null", "null"),
        ("true", "bool"),
        ("1.5", "float"),
    ):
        yield bad(f"not-object-{kind}", lines[0], value + "\n")
    yield bad("unknown-key", with_value(lines[0], "wings", "2"))
    yield bad("unknown-key-first", '{"wings": 2, "hair": 3, "legs": 3}\n')
    yield bad("missing-legs", '{"hair": 1}\n')
    yield bad("ignored-legs", lines[0], args=("--ignore-columns", "legs"))
    for key in ("hair", "legs", "catsize", "animal_name"):
        for value in (
            "null",
            "2",
            "-1",
            "3",
            '"yes"',
            '""',
            "1.5",
            "true",
            "[1]",
            "{}",
            "NaN",
            "Infinity",
            "1e400",
            "1" + "0" * 30,
            '"1.5"',
            "7",
        ):
            yield bad(f"{key}-{value}", lines[0], with_value(lines[1], key, value))
    yield bad("two-bad-values-one-row", with_value(with_value(lines[0], "legs", "3"), "hair", "2"))
    yield bad("bad-value-then-invalid-json", with_value(lines[0], "legs", "3"), *lines[1:5], "{\n")
    yield bad("bad-value-then-not-object", with_value(lines[0], "legs", "3"), *lines[1:5], "[]\n")
    late = jsonl_lines(5000)
    yield bad("late-bad-value", *late[:4500], with_value(late[4500], "legs", "7"), *late[4501:])
    yield bad(
        "bad-value-and-invalid-json-in-later-chunk",
        with_value(late[0], "legs", "3"),
        *late[1:4500],
        "{\n",
    )
    yield Case(
        "bad-jsonl-stdin", "a.jsonl", _text(lines[0], with_value(lines[1], "legs", "3")), stdin=True
    )
    yield Case(
        "bad-jsonl-to-output",
        "a.jsonl",
        _text(lines[0], with_value(lines[1], "hair", "5")),
        ("--output", "out.csv"),
    )


def cases() -> list[Case]:
    """Every case of the corpus."""
    return [*_valid_csv(), *_valid_jsonl(), *_bad_csv(), *_bad_jsonl()]


def _digest(text: str) -> str | dict[str, object]:
    if len(text) <= LONG:
        return text
    return {"length": len(text), "sha256": hashlib.sha256(text.encode()).hexdigest()}


def run_case(case: Case, folder: Path) -> dict[str, object]:
    """Run ``case`` in ``folder`` (in-process): its exit status, stdout, stderr and output file."""
    (folder / case.file).write_bytes(case.content)
    args = ["predict", "-" if case.stdin else case.file, *case.args]
    out, err = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(case.content)) if case.stdin else sys.stdin
    previous = Path.cwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            saved, sys.stdin = sys.stdin, stdin
            try:
                status = cli.main(args)
            except SystemExit as exit_:
                status = int(exit_.code or 0)
            finally:
                sys.stdin = saved
    finally:
        os.chdir(previous)
    answer: dict[str, object] = {
        "status": status,
        "stdout": _digest(out.getvalue()),
        "stderr": err.getvalue(),
    }
    if "--output" in case.args:
        target = folder / case.args[case.args.index("--output") + 1]
        answer["output"] = _digest(target.read_text(encoding="utf-8")) if target.exists() else None
        target.unlink(missing_ok=True)
    (folder / case.file).unlink()
    return answer


def record_answers() -> None:
    """Run every case with the current code and write the golden file."""
    import tempfile

    with tempfile.TemporaryDirectory() as temp:
        answers = {case.name: run_case(case, Path(temp)) for case in cases()}
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(answers, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stdout.write(f"{len(answers)} cases recorded in {GOLDEN}\n")


if __name__ == "__main__":
    record_answers()
