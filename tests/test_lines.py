"""Reading and checking problem lines, and the records and exit codes of gdsolve batch (torch-free)."""

from __future__ import annotations

import io
import json
import math
import sys

import pytest

from gdsolve.core.errors import OptionError
from gdsolve.core.status import ExitStatus
from gdsolve.io.jsonio import line as jsonl_line
from gdsolve.jobs.lines import KEYS, Limits, LineError, exit_code, parse_problem, read_lines, record, worst

LIMITS = Limits()


def parse(item, limits=LIMITS, number=7):
    return parse_problem(number, item, limits)


def test_a_line_is_a_problem_with_any_setting_by_its_api_name():
    p = parse('{"id": "a", "expression": "(x-4)**2", "x0": {"x": 0}, "lr": 0.2, "method": "momentum", '
              '"options": {"momentum": 0.5}, "max_iter": 50, "sense": "maximize"}')
    assert (p.id, p.number, p.sense, p.expression) == ("a", 7, "maximize", "(x-4)**2")
    assert p.kwargs["lr"] == 0.2 and p.kwargs["options"] == {"momentum": 0.5} and p.kwargs["max_iter"] == 50
    assert "id" not in p.kwargs and "expression" not in p.kwargs


def test_the_id_is_the_line_number_when_absent():
    assert parse('{"expression": "x**2"}', number=12).id == 12


@pytest.mark.parametrize("text, words", [
    ("not json", "is not valid JSON"),
    ('{"expression": "x**2", "x0": NaN}', "NaN is not JSON"),
    ('{"expression": "x**2", "x0": Infinity}', "Infinity is not JSON"),
    ('[1, 2]', "must be a JSON object"),
    ('"x**2"', "must be a JSON object"),
    ('{"x0": 1}', 'has no "expression"'),
    ('{"expression": 3}', "expression must be a string"),
    ('{"expression": "x", "sense": "up"}', "sense must be"),
    ('{"expression": "x", "id": [1]}', "id must be a string or a number"),
    ('{"expression": "x", "max_iters": 9}', "unknown setting 'max_iters'; did you mean 'max_iter'?"),
    ('{"expression": "x", "device": "cuda"}', "device is set for the whole batch"),
    ('{"expression": "x", "callback": 1}', "callback is set for the whole batch"),
    ("[" * 100_000, "not valid JSON"),
    ('{"expression": "x", "seed": 1' + "0" * 5000 + "}", "not valid JSON"),
])
def test_a_bad_line_is_refused_with_its_own_message(text, words):
    with pytest.raises(LineError) as info:
        parse(text)
    assert words in str(info.value) and info.value.exit_code == ExitStatus.USAGE
    assert str(info.value).startswith("line 7")


def test_the_unknown_setting_message_lists_every_key():
    with pytest.raises(LineError) as info:
        parse('{"expression": "x", "zzz": 1}')
    assert all(k in str(info.value) for k in KEYS)


@pytest.mark.parametrize("line, words", [
    ({"expression": "x", "max_iter": 2_000_000}, "max_iter 2000000 exceeds the batch's limit of 1,000,000"),
    ({"expression": "x", "max_iter": 1000, "hops": 1000}, "x (hops 1000 + 1) exceeds"),
    ({"expression": "x", "starts": 200_000}, "200,000 rows"),
    ({"expression": "x", "starts": 1000, "lr": [0.1] * 200}, "200,000 rows"),
    ({"expression": "x", "starts": 1000, "options": {"momentum": [0.1] * 200}}, "200,000 rows"),
    ({"expression": "x", "time_limit": 61}, "time_limit 61 s exceeds the batch's limit of 60 s"),
])
def test_a_line_asking_more_than_the_batch_allows_is_refused(line, words):
    with pytest.raises(LineError) as info:
        parse(line)
    assert words in str(info.value)


def test_limits_are_the_batch_options():
    small = Limits(time_limit=5, max_iter=10, max_rows=4)
    with pytest.raises(LineError, match="limit of 10 iterations"):
        parse({"expression": "x", "max_iter": 11}, small)
    with pytest.raises(LineError, match="limit of 4 rows"):
        parse({"expression": "x", "max_iter": 5, "starts": 5}, small)
    assert parse({"expression": "x", "max_iter": 10, "starts": 4}, small).kwargs["time_limit"] == 5


def test_a_line_without_a_time_limit_runs_on_the_batch_clock():
    p = parse({"expression": "x"})
    assert p.batch_clock and p.kwargs["time_limit"] == 60.0
    own = parse({"expression": "x", "time_limit": 2})
    assert not own.batch_clock and own.kwargs["time_limit"] == 2


def test_bounds_take_null_as_an_open_end():
    p = parse('{"expression": "x", "bounds": {"x": [0, null], "y": [null, 2]}}')
    assert p.kwargs["bounds"] == {"x": [0, math.inf], "y": [-math.inf, 2]}


@pytest.mark.parametrize("kwargs", [{"time_limit": 0}, {"time_limit": math.inf}, {"max_iter": 0}, {"max_rows": 1.5},
                                    {"max_chars": True}])
def test_limits_are_checked(kwargs):
    with pytest.raises(OptionError):
        Limits(**kwargs)


def test_read_lines_numbers_physical_lines_and_skips_blank_ones():
    text = '{"a": 1}\n\n   \n{"b": 2}\n{"c": 3}'
    assert [(n, t.strip()) for n, t in read_lines(io.StringIO(text), 100)] == [
        (1, '{"a": 1}'), (4, '{"b": 2}'), (5, '{"c": 3}')]


def test_an_over_long_line_is_read_past_and_refused_alone():
    text = '{"expression": "x"}\n' + "y" * 500 + '\n{"expression": "z"}\n'
    got = list(read_lines(io.StringIO(text), 100))
    assert [n for n, _ in got] == [1, 2, 3] and got[2][1].strip() == '{"expression": "z"}'
    with pytest.raises(LineError, match="line 2 is longer than the batch's limit of 100 characters"):
        parse_problem(2, got[1][1], Limits(max_chars=100))


def test_records_and_their_exit_codes():
    ok = record("a", {"status": "converged"})
    assert ok == {"id": "a", "result": {"status": "converged"}, "error": None} and exit_code(ok) == 0
    assert exit_code(record(1, {"status": "stalled"})) == ExitStatus.NOT_CONVERGED
    assert exit_code(record(1, {"status": "diverged"})) == ExitStatus.DIVERGED
    assert exit_code(record(1, None, "bad", 2)) == ExitStatus.USAGE
    # a line cut by the batch's clock carries both its result and an error with exit 1
    assert exit_code(record(1, {"status": "time_limit"}, "stopped by the batch's time limit", 1)) == 1


@pytest.mark.parametrize("codes, expected", [
    ([], 0), ([0, 0], 0), ([0, 1], 1), ([1, 3, 0], 3), ([3, 2, 1], 2), ([2, 70, 3], 70),
])
def test_the_batch_exit_code_is_the_worst_lines(codes, expected):
    assert worst(codes) == expected


def test_dumps_is_one_strict_json_line():
    line = jsonl_line(record(1, {"fun": math.inf, "x": {"x": math.nan}}))
    assert "\n" not in line and json.loads(line)["result"] == {"fun": None, "x": {"x": None}}


def test_reading_and_checking_lines_imports_neither_torch_nor_sympy():
    import subprocess

    code = ("import sys, io\nfrom gdsolve.jobs.lines import Limits, parse_problem, read_lines\n"
            "[parse_problem(n, t, Limits()) for n, t in read_lines(io.StringIO('{\"expression\": \"x\"}'), 100)]\n"
            "import gdsolve.cli.app, gdsolve.jobs.batch\n"
            "sys.stderr.write(repr([m for m in ('torch', 'sympy') if m in sys.modules]))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stderr == "[]", p.stderr
