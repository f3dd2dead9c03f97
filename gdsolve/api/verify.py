"""``--verify``: compare gdsolve's answer with the exact stationary points sympy can find.

A descent ends *near* a stationary point; sympy can sometimes say exactly
where the stationary points are (``grad f = 0``) and what they are. Solving is
unbounded work (minutes, or forever, on a formula with no closed form), so it
runs in a separate process that is killed when its time is up, with its
memory capped: "no closed form found within 5 s" is a normal answer, never a
hang.

The process starts *before* the descent, so sympy works while torch does, and
gets the answer over a pipe once the run ends. It imports sympy, never torch.

The formula is made exact first (:func:`gdsolve.formula.parse.exact_expression`: every
float literal is the rational it was written as, ``0.1`` is ``1/10``, which is
what ``nsimplify(rational=True)`` makes of a typed decimal), as sympy solves
with rationals in milliseconds what it may take minutes to solve with floats.

Example:
    >>> check = Verification.start("(1-x)**2 + 100*(y-x**2)**2", timeout=30)
    >>> doc = check.finish({"x": 0.9999, "y": 0.9998})
    >>> doc["status"], doc["points"][0]["x"], doc["points"][0]["kind"], doc["nearest"]["sought"]
    ('found', {'x': '1', 'y': '1'}, 'minimum', True)
"""

from __future__ import annotations

import math
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..core.errors import OptionError, shown
from ..core.settings import DEFAULT_VERIFY_TIMEOUT as TIMEOUT  # seconds sympy gets by default (--verify-timeout)
from ..core.settings import finite_real

#: The solving process may use this much memory (address space) before sympy gets MemoryError.
MEMORY_BYTES = 4 * 2**30
#: At most this many stationary points are reported (the nearest to the answer first).
MAX_POINTS = 20
#: A Hessian eigenvalue counts as zero when within this fraction of the largest one's size (at least 1).
EIG_TOL = 1e-9


def classify(eigenvalues: Sequence[float]) -> str:
    """"minimum", "maximum", "saddle" or "degenerate" from a Hessian's eigenvalues.

    >>> classify([2.0, 200.0]), classify([-1.0, -3.0]), classify([2.0, -2.0]), classify([0.0, 1.0])
    ('minimum', 'maximum', 'saddle', 'degenerate')
    """
    values = list(eigenvalues)
    if not values or not all(math.isfinite(v) for v in values):
        return "degenerate"
    tol = EIG_TOL * max(1.0, *(abs(v) for v in values))
    if any(v > tol for v in values) and any(v < -tol for v in values):
        return "saddle"
    if all(v > tol for v in values):
        return "minimum"
    if all(v < -tol for v in values):
        return "maximum"
    return "degenerate"


#: Derivative orders tried, in one variable, where the second derivative is zero.
MAX_ORDER = 8


def _settle(f: Any, symbols: Sequence[Any], sol: Mapping[Any, Any], exact: Mapping[Any, Any]) -> str:
    """The kind of a stationary point whose Hessian is singular, by exact reasoning; "degenerate" if none holds.

    A semidefinite Hessian cannot tell a minimum from a saddle (``x**4`` and
    ``x**3`` at 0, the line of minima of ``(x+y)**2``), so the Hessian test
    is not the verdict here. Instead: f minus its value at the point is
    proven non-negative (or non-positive) by sympy, which makes the point a
    global minimum (maximum); in one variable, the first derivative that
    does not vanish decides (an even order: an extremum by its sign; an odd
    one: not an extremum, a "saddle" of one variable).
    """
    import sympy

    fstar = sympy.simplify(f.xreplace(dict(sol)))
    if fstar.free_symbols:  # not constant along the family: use the member met
        fstar = f.xreplace(dict(exact))
    gap = f - fstar
    for form in (gap, sympy.factor(gap)):
        if form.is_nonnegative:
            return "minimum"
        if form.is_nonpositive:
            return "maximum"
    if len(symbols) == 1 and not any(v.free_symbols for v in sol.values()):
        (s,) = symbols
        for k in range(3, MAX_ORDER + 1):
            value = _number(sympy.diff(f, s, k).xreplace(dict(exact)))
            if not math.isfinite(value):
                break
            if value != 0:
                if k % 2:
                    return "saddle"
                return "minimum" if value > 0 else "maximum"
    return "degenerate"


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    except (ImportError, ValueError, OSError):  # not on this platform, or a lower limit already
        pass
    try:  # Linux: die with the parent, even if it is killed without cleaning up
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _solve(text: str, params: Mapping[str, float], variables: Sequence[str]) -> tuple[Any, list[Any], list[dict]]:
    """The exact f, its symbols and the real solutions of grad f = 0 (each ``{symbol: expr}``)."""
    import sympy

    from ..formula.parse import exact_expression, parse_expression
    from ..formula.stable import written_out
    from .symbolic import drop_delta

    parsed = parse_expression(text, params=params, variables=variables)
    f = exact_expression(parsed)  # no float in it: what nsimplify(rational=True) would make of the decimals
    # softplus, sigmoid, normcdf...: solve knows the formulas (sigmoid(x) = 3/10 is x = log(3/7)), not the names.
    f = written_out(f)
    symbols = list(parsed.symbols)
    grad = [drop_delta(sympy.diff(f, s)) for s in symbols]
    found = sympy.solve(grad, symbols, dict=True)
    solutions = []
    for sol in found:
        point = {s: sol.get(s, s) for s in symbols}
        if any(v.is_real is False for v in point.values()):
            continue
        solutions.append(point)
    return f, symbols, solutions


def _periods(f: Any, symbols: Sequence[Any]) -> dict[Any, Any]:
    """{symbol: period} for each variable in which f repeats every pi or 2*pi.

    sympy's ``solve`` lists the stationary points of a periodic formula in one
    period only (``cos(x) = 0`` gives pi/2 and 3*pi/2); knowing the period, the
    listed points are moved to the copy nearest gdsolve's answer.
    """
    import sympy

    trig = (sympy.sin, sympy.cos, sympy.tan)
    out = {}
    for s in symbols:
        if not any(s in node.free_symbols for node in f.atoms(*trig)):
            continue
        for period in (sympy.pi, 2 * sympy.pi):
            if sympy.simplify(f.xreplace({s: s + period}) - f) == 0:
                out[s] = period
                break
    return out


def _number(expr: Any) -> float:
    from .symbolic import evaluate

    return evaluate(expr, {})


def _describe(f: Any, symbols: Sequence[Any], solutions: Sequence[dict], answer: Mapping[str, float],
              sought: str) -> dict[str, Any]:
    """Numbers for each solution at gdsolve's answer: x, f, kind, distance; nearest first."""
    import mpmath
    import sympy

    from .symbolic import drop_delta

    names = [str(s) for s in symbols]
    here = {s: answer[str(s)] for s in symbols}
    hessian = [[drop_delta(sympy.diff(f, a, b)) for b in symbols] for a in symbols]
    periods = _periods(f, symbols)
    points = []
    for sol in solutions:
        # A family of solutions (x = -y) is reported at the member whose free variables are gdsolve's.
        free = {s for v in sol.values() for s in v.free_symbols}
        exact = {s: v.xreplace({t: sympy.Float(here[t], 30) for t in free}) if free else v for s, v in sol.items()}
        for s, period in periods.items():  # the copy of a periodic point nearest the answer
            value = _number(exact[s])
            if math.isfinite(value):
                exact[s] = exact[s] + round((here[s] - value) / float(period)) * period
        x_float = {str(s): _number(v) for s, v in exact.items()}
        if not all(math.isfinite(v) for v in x_float.values()):
            continue  # not real after all, or not a number
        H = [[_number(h.xreplace(exact)) for h in row] for row in hessian]
        try:
            finite = all(math.isfinite(v) for row in H for v in row)
            eig = [float(e) for e in mpmath.eigsy(mpmath.matrix(H))[0]] if finite else []
        except (ZeroDivisionError, ValueError):
            eig = []
        distance = math.dist([x_float[n] for n in names], [answer[n] for n in names])
        kind = classify(eig)
        if kind == "degenerate" and eig:  # a singular Hessian decides nothing: reason exactly, where sympy can
            kind = _settle(f, symbols, sol, exact)
        points.append({"x": {str(s): str(sol[s] if free else exact[s]) for s in symbols}, "x_float": x_float,
                       "f": _number(f.xreplace(exact)), "kind": kind, "family": bool(free),
                       "distance": distance})
    points.sort(key=lambda p: p["distance"])
    nearest = None
    if points:
        kind = points[0]["kind"]
        # a point no test could classify is neither the kind sought nor not: None, never a wrong verdict
        nearest = {"distance": points[0]["distance"], "kind": kind,
                   "sought": None if kind == "degenerate" else kind == sought}
    return {"status": "found" if points else "none", "count": len(points), "points": points[:MAX_POINTS],
            "nearest": nearest, "periodic": sorted(str(s) for s in periods)}


#: Starts every message on the pipe, so text printed before it (a sitecustomize, a warning) is skipped.
MAGIC = b"\x00gdsolve-verify\x00"


def _send(stream: Any, message: Any) -> None:
    data = pickle.dumps(message)
    stream.write(MAGIC + struct.pack("<Q", len(data)) + data)
    stream.flush()


def _read(stream: Any) -> Any:
    """One message from ``stream``; EOFError when it closed."""
    seen = b""
    while not seen.endswith(MAGIC):
        byte = stream.read(1)
        if not byte:
            raise EOFError
        seen = (seen + byte)[-len(MAGIC):]
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (size,) = struct.unpack("<Q", head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)  # only ever from our own process, never from a user


def main() -> None:
    """The solving process: read the problem, solve, send "solved", read the answer, send the verdict."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop, and cleans up
    _limit_memory()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # anything printed must not corrupt the messages on the pipe
    text, params, variables, sought = _read(inp)
    try:
        f, symbols, solutions = _solve(text, params, variables)
    except MemoryError:
        _send(out, {"status": "none", "reason": f"sympy ran out of memory ({MEMORY_BYTES // 2**30} GiB)"})
        return
    except Exception as exc:  # sympy's NotImplementedError and kin: it cannot solve this formula
        _send(out, {"status": "none", "reason": f"sympy cannot solve it ({type(exc).__name__}: {shown(str(exc))})"})
        return
    _send(out, {"status": "solved"})
    answer = _read(inp)
    try:
        _send(out, _describe(f, symbols, solutions, answer, sought))
    except Exception as exc:
        _send(out, {"status": "none", "reason": f"sympy cannot classify it ({type(exc).__name__}: {shown(str(exc))})"})


class Verification:
    """A solving process started now, asked for its verdict when the run is done.

    Use :meth:`start` before the run and :meth:`finish` (or :meth:`cancel`) after.
    The process is a fresh interpreter running :func:`main` (not
    multiprocessing, whose spawn would re-run the caller's script, and whose
    fork can deadlock a process that has used torch). A thread reads its
    messages, so waiting for them has a timeout on every platform.
    """

    def __init__(self, process: subprocess.Popen | None, timeout: float, started: float,
                 failure: str | None = None) -> None:
        self.process, self.timeout, self.started = process, timeout, started
        self.messages: queue.Queue[Any] = queue.Queue()
        if process is None:  # it could not start: the answer is already known
            self.messages.put({"status": "none", "reason": failure})
        else:
            threading.Thread(target=self._pump, args=(process.stdout,), daemon=True,
                             name="gdsolve-verify-reader").start()

    def _pump(self, stream: Any) -> None:
        try:
            while True:
                self.messages.put(_read(stream))
        except (EOFError, OSError, ValueError, pickle.UnpicklingError):
            self.messages.put(None)

    @classmethod
    def start(cls, expression: str, *, params: Mapping[str, float] | None = None,
              variables: Sequence[str] | None = None, sense: str = "minimize",
              timeout: float = TIMEOUT) -> Verification:
        """Start solving ``grad f = 0`` for ``expression`` (already checked by the caller) in a new process."""
        check_timeout(timeout)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        started = time.monotonic()
        try:
            process = subprocess.Popen([sys.executable, "-c", "from gdsolve.api.verify import main; main()"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       env=env)
        except OSError as exc:  # no interpreter to start (an embedded Python), too many processes
            return cls(None, float(timeout), started, f"the solving process could not start ({exc.strerror or exc})")
        sought = "maximum" if sense == "maximize" else "minimum"
        check = cls(process, float(timeout), started)
        check._post((expression, dict(params or {}), None if variables is None else list(variables), sought))
        return check

    def _post(self, message: Any) -> None:
        if self.process is None:
            return
        try:
            _send(self.process.stdin, message)
        except (BrokenPipeError, OSError, ValueError):
            pass  # the process is gone; its end of the pipe says so

    def _receive(self, deadline: float, stop: Callable[[], bool] | None) -> dict[str, Any] | None:
        while True:
            left = deadline - time.monotonic()
            try:
                reply = self.messages.get(timeout=max(min(left, 0.1), 0.0))
                break
            except queue.Empty:
                if stop is not None and stop():
                    return {"status": "interrupted", "reason": "interrupted (Ctrl-C) before sympy answered"}
                if left <= 0.1:
                    return None
        if reply is None:  # the process died (killed, out of memory)
            return {"status": "none", "reason": "the solving process ended without an answer"}
        return reply

    def finish(self, answer: Mapping[str, float], stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """The ``verify`` document for gdsolve's ``answer`` ({name: value}); stops the process.

        Waits at most until ``timeout`` seconds after :meth:`start`; if the run
        itself outlasted that, at most ``min(timeout, 1)`` second more. A
        ``stop()`` that turns True (a Ctrl-C) ends the wait within 0.1 s.
        """
        deadline = max(self.started + self.timeout, time.monotonic() + min(self.timeout, 1.0))
        try:
            reply = self._receive(deadline, stop)
            if reply is not None and reply.get("status") == "solved":
                self._post({k: float(v) for k, v in answer.items()})
                reply = self._receive(deadline, stop)
        finally:
            seconds = time.monotonic() - self.started
            self.cancel()
        if reply is None:
            reply = {"status": "timeout", "reason": f"no closed form found within {self.timeout:g} s"}
        elif reply["status"] == "none" and "reason" not in reply:
            reply = {**reply, "reason": "sympy found no real stationary point"}
        return {"status": None, "points": [], "nearest": None, "count": 0, "periodic": [], "reason": None, **reply,
                "seconds": seconds}

    def cancel(self) -> None:
        """Stop the solving process now and reap it (idempotent)."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.kill()  # SIGKILL: sympy holds nothing that needs cleaning up
        process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except (OSError, ValueError):
                pass


def check_timeout(timeout: object) -> None:
    if not (finite_real(timeout) and 0 < float(timeout) <= 3600):  # type: ignore[arg-type]
        raise OptionError(f"{{verify_timeout}} must be a number of seconds in (0, 3600], got {shown(timeout)}")


def summary(doc: Mapping[str, Any], names: Sequence[str]) -> str:
    """One line for the summary panel.

    >>> summary({"status": "timeout", "points": [], "nearest": None, "count": 0, "reason": "no closed form found within 5 s", "seconds": 5.0}, ["x"])
    'no closed form found within 5 s'
    """
    if doc["status"] != "found":
        return str(doc.get("reason") or doc["status"])
    p, near = doc["points"][0], doc["nearest"]
    # A family (x = -y for any y) is written by its equations, then its free variables: not "y = y".
    free = [n for n in names if p.get("family") and str(p["x"][n]) == n]
    fixed = [n for n in names if n not in free]
    where = ", ".join(f"{n} = {p['x'][n]}" for n in fixed[:6]) + (", …" if len(fixed) > 6 else "")
    if free:
        where = f"{where} (for any {', '.join(free)})" if fixed else f"every {', '.join(free)}"
    more = f"; {doc['count']} stationary points in all" if doc["count"] > 1 else ""
    verdict = ("degenerate: the Hessian test cannot decide whether it is the kind sought" if near["sought"] is None
               else "the kind sought" if near["sought"] else "not the kind sought")
    return f"nearest exact stationary point: {p['kind']} at {where}, distance {near['distance']:.3g} ({verdict}){more}"
