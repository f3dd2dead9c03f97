"""What ``--help`` shows besides the options: the exit-code table and each command's worked examples."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.status import ExitStatus


def exit_code_table(shown: Sequence[ExitStatus] = tuple(ExitStatus), converged: str = "converged") -> str:
    """The exit-code table for --help, from the one enum that defines the codes."""
    words = {
        ExitStatus.CONVERGED: converged,
        ExitStatus.NOT_CONVERGED: "not converged: stalled, max-iter or time limit",
        ExitStatus.USAGE: "bad input or usage",
        ExitStatus.DIVERGED: "diverged",
        ExitStatus.INTERNAL_ERROR: "internal error (a bug: rerun with --debug and report it)",
        ExitStatus.IO_ERROR: "output could not be written (stdout closed, disk full)",
        ExitStatus.INTERRUPTED: "interrupted (Ctrl-C)",
        ExitStatus.BROKEN_PIPE: "stdout closed by its reader (| head)",
    }
    return "[bold]Exit codes[/bold]\n" + "\n".join(f"  {int(code):<4} {words[code]}" for code in shown)


EXIT_CODES = exit_code_table()
#: grad and explain solve nothing: no "not converged" or "diverged" for them.
_NO_RUN = [c for c in ExitStatus if c not in (ExitStatus.NOT_CONVERGED, ExitStatus.DIVERGED)]
#: Each command that solves nothing, its exit-code table.
SHOWING_EXIT_CODES = {
    "grad": exit_code_table(_NO_RUN, converged="done, also when autograd and sympy disagree (--json says agree)"),
    "explain": exit_code_table(_NO_RUN, converged="done"),
    "plot": exit_code_table(_NO_RUN, converged="drawn"),
}


#: The worked examples --help shows (tests run each of them).
EXAMPLES = {
    "minimize": [
        ('gdsolve minimize "(x-4)**2" --x0 0.7421', "the tutorial's run"),
        ('gdsolve minimize "(1-x)**2 + 100*(y-x^2)**2" --method lbfgs --json | jq .x', ""),
        ('gdsolve minimize "x**2 + 3*y**2" --trace - | gdsolve plot -o run.png', ""),
        ('gdsolve minimize "(x^2+y-11)^2+(x+y^2-7)^2" --method lbfgs --starts 64', "every minimum"),
        ('gdsolve minimize "(1-x)**2 + 100*(y-x^2)**2" --method lbfgs --verify', "exact answer by sympy"),
        ('gdsolve minimize "40*lam - 141*log(lam)" --method lbfgs --x0 1 --stderr', ""),
    ],
    "maximize": [
        ('gdsolve maximize "3 - (x-1)**2" --x0 0', "gradient ascent"),
        ('gdsolve maximize "x*y*(3-x-y)" --method lbfgs --x0 0.5,0.5 --json | jq .fun', ""),
        ('gdsolve maximize "-x**2 - 3*y**2" --trace - | gdsolve plot -o run.png', ""),
    ],
    "batch": [
        ("gdsolve batch problems.jsonl | jq -c '{id, x: .result.x}'", "one record per line"),
        ("gdsolve batch problems.jsonl --jobs 4 > results.jsonl", "four processes"),
        ("gdsolve batch problems.jsonl --dask tcp://scheduler:8786", "a Dask cluster"),
    ],
    "grad": [
        ('gdsolve grad "(1-x)**2 + 100*(y-x^2)**2" --hessian', "gradient and Hessian"),
        ('gdsolve grad "sqrt(3)*x*y + abs(x-1)" --at x=2,y=1', "autograd against sympy"),
        ('gdsolve grad "x*y^2" --json | jq -r .gradient.x', ""),
    ],
    "explain": [
        ('gdsolve explain "(x-4)**2" --at x=0.2121', "the tutorial's In [7]"),
        ('gdsolve explain "3*(x+2)**2"', "the tutorial's In [3]"),
        ('gdsolve explain "sin(x)*y" --dot > graph.dot', "then: dot -Tpng graph.dot -o graph.png"),
    ],
    "fit": [
        ('gdsolve fit "y ~ b1*(1-exp(-b2*x))" --data misra1a.csv --p0 b1=500,b2=1e-4', "NIST's Misra1a"),
        ('gdsolve fit "y ~ a*exp(-k*t)" --data decay.tsv --sigma sigma --json | jq .stderr', "weighted"),
        ('gdsolve fit "y ~ a*exp(-k*t)" --data decay.tsv --loss soft_l1 --f-scale 0.1 --residuals res.csv',
         "robust, residuals"),
    ],
    "plot": [
        ('gdsolve minimize "x**2 + 3*y**2" --trace - | gdsolve plot -o run.png', ""),
        ("gdsolve plot a.jsonl b.jsonl -o compare.svg", "several runs, one legend"),
        ("gdsolve plot run.jsonl", "in the terminal"),
    ],
}


def epilog(command: str) -> str:
    """The examples and exit codes shown under a command's --help."""
    lines = [f"  {cmd}" + (f"   # {note}" if note else "") for cmd, note in EXAMPLES[command]]
    codes = SHOWING_EXIT_CODES.get(command, EXIT_CODES)
    return "[bold]Examples[/bold]\n" + "\n".join(lines) + "\n\n" + codes
