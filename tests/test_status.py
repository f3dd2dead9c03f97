"""Exit codes and stop messages: one table, each value documented and fixed."""

from __future__ import annotations

from gdsolve.core.status import STOP_MESSAGES, ExitStatus, Status, StopRule, format_pair, stop_message


def test_exit_codes_are_the_documented_numbers():
    assert {e.name: int(e) for e in ExitStatus} == {
        "CONVERGED": 0, "NOT_CONVERGED": 1, "USAGE": 2, "DIVERGED": 3, "INTERNAL_ERROR": 70, "IO_ERROR": 74,
        "INTERRUPTED": 130, "BROKEN_PIPE": 141,
    }


def test_every_exit_code_is_in_the_readme_table():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    assert {int(code) for code in ExitStatus} == {int(line.split("|")[1]) for line in section.splitlines()
                                                   if line.startswith("| ") and line.split("|")[1].strip().isdigit()}


def test_status_maps_to_exit_code():
    assert Status.CONVERGED.exit_status == 0 and Status.CONVERGED.success
    assert Status.MAX_ITER.exit_status == 1 and not Status.MAX_ITER.success
    assert Status.TIME_LIMIT.exit_status == 1
    assert Status.DIVERGED.exit_status == 3
    assert Status.INTERRUPTED.exit_status == 130


def test_every_rule_has_a_message_and_status():
    assert {rule for rule, _ in STOP_MESSAGES} == set(StopRule)
    for rule in StopRule:
        assert isinstance(rule.status, Status)
        assert stop_message(rule, value=1e-7, tol=1e-6, nit=3, detail="x")
    # the step rules alone can end a run as stalled; every status but stalled has a rule of its own
    assert {rule for rule, status in STOP_MESSAGES if status is Status.STALLED} == {StopRule.EPS, StopRule.FTOL}
    assert {status for _, status in STOP_MESSAGES} == set(Status)


def test_stalled_is_exit_1_and_not_success():
    assert Status.STALLED.exit_status == 1 and not Status.STALLED.success
    msg = stop_message(StopRule.EPS, Status.STALLED, value=1e-7, tol=1e-6, detail="the gradient is not small")
    assert msg == "stalled: step 1e-07 < eps 1e-06, but the gradient is not small"


def test_measured_value_against_tolerance():
    assert stop_message(StopRule.EPS, value=8.1e-07, tol=1e-06) == "converged: step 8.1e-07 < eps 1e-06"
    assert format_pair(9.9996e-07, 1e-06) == ("9.9996e-07", "1e-06")
