"""Validated settings of a run, and the start point.

Everything a user can get wrong is checked here, before any iteration, and
reported as an :class:`~gdsolve.core.errors.OptionError` that names the option and
the fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from .errors import OptionError, flag, shown

#: A start point: ``{"x": 1, "y": 2}``, a sequence in variable order, or one
#: number for a one-variable expression.
X0 = Union[Mapping[str, float], Sequence[float], float, None]

DTYPES = ("float64", "float32")

#: Each method's defaults, by torch's option names. The single source of
#: truth: the CLI builds its choices and help from it without importing torch.
#: The learning rates are torch's own defaults (gd keeps the tutorial's 0.1,
#: lbfgs 1 with a strong Wolfe line search). torch's SGD has no default
#: momentum; 0.9 is the usual choice. lr 0.01 was measured against torch's
#: 0.001 for momentum and nesterov (start (1, 1.5), eps 1e-6): 0.01 is about
#: twice as fast on a bowl, Booth and Himmelblau but diverges on Rosenbrock in
#: 4 steps, while 0.001 converges on all four, so torch's default stays.
METHODS: dict[str, dict[str, float]] = {
    "gd": {"lr": 0.1},
    "momentum": {"lr": 0.001, "momentum": 0.9},
    "nesterov": {"lr": 0.001, "momentum": 0.9},
    "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "weight_decay": 0.0},
    "adamw": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "weight_decay": 0.01},
    "rmsprop": {"lr": 0.01, "alpha": 0.99, "momentum": 0.0, "weight_decay": 0.0},
    "adagrad": {"lr": 0.01, "weight_decay": 0.0},
    "lbfgs": {"lr": 1.0, "history_size": 100},
}
LINE_SEARCHES = ("none", "armijo", "strong_wolfe")
#: ``auto`` (lbfgs's default): lbfgs runs in variables rescaled by the Hessian's diagonal at the start where
#: their curvatures differ by more than a factor of 1000 (:mod:`gdsolve.optim.scaling`). ``none``: never; the
#: only choice for the first-order methods, whose ``lr`` is a step in the user's units (gd's update stays the tutorial's).
SCALES = ("auto", "none")
TRACE_FORMATS = ("jsonl", "csv")
#: The losses of a fit (:mod:`gdsolve.optim.lm`): least squares, and three robust ones as in scipy's least_squares.
LOSSES = ("linear", "soft_l1", "huber", "cauchy")
#: fit's likelihoods (:mod:`gdsolve.optim.family`), by name: here so the CLI lists them without importing torch.
FAMILY_NAMES = ("gaussian", "binomial", "poisson", "gamma")

# ---- Defaults: each is written here once. The library's signatures, Settings, the command
# line's options and --help read them from here (this module imports nothing heavy). Where
# what a run does depends on whether an option was given at all, "not given" is None, never
# a copy of the default compared against.
#: The tutorial's stopping rule and budget.
DEFAULT_EPS = 1e-6
DEFAULT_MAX_ITER = 100
DEFAULT_SEED = 0
#: A hop of basin hopping moves each variable by up to this fraction of its box's width.
DEFAULT_HOP_SIZE = 0.05
#: Seconds ``--verify`` gives sympy.
DEFAULT_VERIFY_TIMEOUT = 5.0
#: A robust loss's ``f_scale`` (the residual size where it bends), as scipy's ``least_squares``.
DEFAULT_F_SCALE = 1.0
#: Levenberg-Marquardt's stopping rules and budget (gdsolve fit); see :mod:`gdsolve.optim.lm`.
FIT_FTOL = 1e-14
FIT_XTOL = 1e-10
FIT_GTOL = 1e-10
FIT_MAX_ITER = 1000


SCHEDULES = ("constant", "exponential", "cosine", "step")
Bounds = dict[str, tuple[float, float]]


#: Each method option's valid range, as torch.optim checks it (and a little
#: stricter where torch would accept a value that cannot converge: a decay
#: factor of 1). ``(low, high, low_open, high_open)``.
OPTION_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "lr": (0.0, math.inf, True, True),
    "momentum": (0.0, 1.0, False, True),
    "beta1": (0.0, 1.0, False, True),
    "beta2": (0.0, 1.0, False, True),
    "alpha": (0.0, 1.0, False, True),
    "weight_decay": (0.0, math.inf, False, True),
    "history_size": (1, math.inf, False, True),
}


def describe_range(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    """Interval notation for a range.

    >>> describe_range(0.0, 1.0, False, True), describe_range(0.0, math.inf, True, True)
    ('[0, 1)', '(0, inf)')
    """
    return f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def is_real(value: Any) -> bool:
    """A real number (int or float, not bool).

    >>> is_real(1), is_real(2.5), is_real(True), is_real("1")
    (True, True, False, False)
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_real(value: Any) -> bool:
    """A real number that a float holds exactly or approximately, and finite.

    An int too large for a float (``10**400``, which JSON allows) is not: it
    would raise ``OverflowError`` at the first ``float()`` or ``math.isfinite``.

    >>> finite_real(1), finite_real(float("inf")), finite_real(10**400), finite_real(True)
    (True, False, False, False)
    """
    if not is_real(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _positive(name: str, value: Any, example: str) -> None:
    if not (finite_real(value) and value > 0):
        raise OptionError(f"{{{name}}} must be a positive number, got {shown(value)}; try {example}")


@dataclass(frozen=True)
class Settings:
    """Every knob of a run. Defaults are the tutorial's: gd, lr 0.1, eps 1e-6, 100 steps.

    ``lr=None`` takes the method's default (see :data:`METHODS`);
    ``options`` holds method options by torch's names (``momentum``,
    ``beta1``...), ``None`` meaning "the method's default". ``line_search``
    ``"none"`` means the method's own: none, except ``strong_wolfe`` for lbfgs.

    >>> Settings(lr=0.05).max_iter
    100
    >>> Settings(method="lbfgs").lr, Settings(method="lbfgs").line_search
    (1.0, 'strong_wolfe')
    >>> Settings(method="lbfgs").scale, Settings().scale
    ('auto', 'none')
    """

    lr: float | None = None
    eps: float = DEFAULT_EPS
    max_iter: int = DEFAULT_MAX_ITER
    dtype: str = "float64"
    seed: int = DEFAULT_SEED
    method: str = "gd"
    options: Mapping[str, Any] = field(default_factory=dict)
    line_search: str = "none"
    gtol: float | None = None
    ftol: float | None = None
    time_limit: float | None = None
    target: float | None = None
    schedule: str = "constant"
    gamma: float | None = None
    step_size: int | None = None
    t_max: int | None = None
    bounds: Bounds = field(default_factory=dict)
    scale: str | None = None

    def __post_init__(self) -> None:
        if self.lr is not None:
            _positive("lr", self.lr, "[[--lr 0.1||lr=0.1]]")
        if not isinstance(self.options, Mapping):
            raise OptionError(f"{{options}} must be a mapping such as {{'momentum': 0.9}}, not {type(self.options).__name__}")
        merged = method_options(self.method, self.lr, dict(self.options))
        object.__setattr__(self, "lr", merged.pop("lr"))
        object.__setattr__(self, "options", merged)
        if not (finite_real(self.eps) and self.eps >= 0):
            raise OptionError(f"{{eps}} must be a finite number >= 0, got {shown(self.eps)}; "
                              "use [[--eps 0||eps=0]] to turn the step rule off")
        if not _is_int(self.max_iter) or self.max_iter < 1:
            raise OptionError(f"{{max_iter}} must be an integer >= 1, got {shown(self.max_iter)}")
        if not isinstance(self.dtype, str) or self.dtype not in DTYPES:
            raise OptionError(f"{{dtype}} must be one of {', '.join(DTYPES)}, got {shown(self.dtype)}")
        if not _is_int(self.seed) or not 0 <= self.seed < 2**63:
            raise OptionError(f"{{seed}} must be an integer in [0, 2**63), got {shown(self.seed)}")
        self._check_line_search()
        for name in ("gtol", "ftol", "time_limit"):
            v = getattr(self, name)
            if v is not None and not (finite_real(v) and v > 0):
                raise OptionError(f"{{{name}}} must be a positive finite number, got {shown(v)}")
        if self.target is not None and not finite_real(self.target):
            raise OptionError(f"{{target}} must be a finite number, got {shown(self.target)}")
        self._check_schedule()
        object.__setattr__(self, "bounds", check_bounds(self.bounds))
        self._check_scale()

    def _check_scale(self) -> None:
        if self.scale is None:  # not given: lbfgs scales where it helps; the first-order methods never
            object.__setattr__(self, "scale", "auto" if self.method == "lbfgs" else "none")
        if not isinstance(self.scale, str) or self.scale not in SCALES:
            raise OptionError(f"{{scale}} must be one of {', '.join(SCALES)}, got {shown(self.scale)}")
        if self.scale == "auto" and self.method != "lbfgs":
            raise OptionError(f"[[--scale auto||scale='auto']] applies to {{method}} lbfgs only: {self.method}'s "
                              "{lr} is a step in your variables' units, taken as given")

    def _check_line_search(self) -> None:
        if not isinstance(self.line_search, str) or self.line_search not in LINE_SEARCHES:
            raise OptionError(f"{{line_search}} must be one of {', '.join(LINE_SEARCHES)}, got {shown(self.line_search)}")
        if self.line_search == "armijo" and self.method not in ("gd", "momentum"):
            raise OptionError(f"[[--line-search armijo||line_search='armijo']] applies to {{method}} gd or momentum, "
                              f"not {self.method}")
        if self.line_search == "strong_wolfe" and self.method != "lbfgs":
            raise OptionError("[[--line-search strong_wolfe||line_search='strong_wolfe']] applies to {method} lbfgs only")
        if self.method == "lbfgs":  # lbfgs always searches; say so in every record of the run
            object.__setattr__(self, "line_search", "strong_wolfe")

    def _check_schedule(self) -> None:
        if not isinstance(self.schedule, str) or self.schedule not in SCHEDULES:
            raise OptionError(f"{{schedule}} must be one of {', '.join(SCHEDULES)}, got {shown(self.schedule)}")
        uses = {"constant": set(), "exponential": {"gamma"}, "step": {"gamma", "step_size"}, "cosine": {"t_max"}}
        for name in ("gamma", "step_size", "t_max"):
            if getattr(self, name) is not None and name not in uses[self.schedule]:
                users = ", ".join(k for k, v in uses.items() if name in v)
                raise OptionError(f"{{{name}}} does not apply to {{schedule}} {self.schedule}; it is used by {users}")
        if self.gamma is not None and not (is_real(self.gamma) and 0 < self.gamma <= 1):
            raise OptionError(f"{{gamma}} must be in (0, 1], got {shown(self.gamma)}")
        for name in ("step_size", "t_max"):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < 1):
                raise OptionError(f"{{{name}}} must be an integer >= 1, got {shown(v)}")

    def schedule_params(self) -> dict[str, Any]:
        """The schedule's parameters with their defaults filled in."""
        if self.schedule == "exponential":
            return {"gamma": 0.99 if self.gamma is None else self.gamma}
        if self.schedule == "step":
            return {"gamma": 0.5 if self.gamma is None else self.gamma, "step_size": self.step_size or 100}
        if self.schedule == "cosine":
            return {"t_max": self.t_max or self.max_iter}
        return {}

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method, "lr": self.lr, **dict(self.options), "line_search": self.line_search,
            "eps": self.eps, "gtol": self.gtol, "ftol": self.ftol, "max_iter": self.max_iter,
            "time_limit": self.time_limit, "target": self.target,
            "schedule": self.schedule, "schedule_params": self.schedule_params(),
            "bounds": {k: [lo, hi] for k, (lo, hi) in self.bounds.items()},
            "dtype": self.dtype, "seed": self.seed, "scale": self.scale,
        }


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_bounds(bounds: Any) -> Bounds:
    """Validate ``{name: (lo, hi)}`` (``math.inf`` for an open end); return it with float ends.

    >>> check_bounds({"x": (0, 5)})
    {'x': (0.0, 5.0)}
    """
    if not isinstance(bounds, Mapping):
        raise OptionError(f"{{bounds}} must be a mapping such as {{'x': (0, 5)}}, not {type(bounds).__name__}")
    out: Bounds = {}
    for name, pair in bounds.items():
        if (not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2
                or not all(finite_real(v) or (is_real(v) and v in (-math.inf, math.inf)) for v in pair)):
            raise OptionError(f"{{bounds}} for {name} must be a pair of numbers (lo, hi), got {shown(pair)}")
        lo, hi = float(pair[0]), float(pair[1])
        if lo > hi or lo == math.inf or hi == -math.inf:  # NaN was refused above
            raise OptionError(f"{{bounds}} {name}={lo:g}:{hi:g} is empty; the lower bound must not exceed the upper")
        out[name] = (lo, hi)
    return out


def method_options(method: str, lr: float | None, given: dict[str, Any]) -> dict[str, Any]:
    """Merge the user's options into ``method``'s defaults; refuse foreign ones and values out of range.

    >>> method_options("adam", None, {"beta1": 0.8})
    {'lr': 0.001, 'beta1': 0.8, 'beta2': 0.999, 'weight_decay': 0.0}
    """
    if not isinstance(method, str) or method not in METHODS:
        raise OptionError(f"{{method}} {shown(method)} is unknown; choose one of {', '.join(METHODS)}")
    defaults = METHODS[method]
    out = dict(defaults)
    if lr is not None:
        out["lr"] = lr
    for name, value in given.items():
        if value is None:
            continue
        if name not in defaults:
            users = [m for m, d in METHODS.items() if name in d]
            if not users:
                known = sorted({k for d in METHODS.values() for k in d} - {"lr"})
                raise OptionError(f"{shown(name)} is not a method option; the options are {', '.join(known)}")
            raise OptionError(f"{{{name}}} does not apply to {{method}} {method}; it is used by {', '.join(users)}")
        out[name] = value
    for name, value in out.items():
        lo, hi, lo_open, hi_open = OPTION_RANGES[name]
        if name == "history_size":
            ok = _is_int(value) and value >= 1
        else:
            ok = (finite_real(value) and (lo < value if lo_open else lo <= value)
                  and (value < hi if hi_open else value <= hi))
        if not ok:
            kind = "an integer >= 1" if name == "history_size" else f"in {describe_range(lo, hi, lo_open, hi_open)}"
            raise OptionError(f"{{{name}}} must be {kind} for {{method}} {method}, got {shown(value)}")
    if method == "nesterov" and out["momentum"] == 0:
        # torch's SGD: "Nesterov momentum requires a momentum and zero dampening".
        raise OptionError("{momentum} must be in (0, 1) for {method} nesterov (Nesterov's look-ahead needs momentum), "
                          "got 0; use [[--method gd||method='gd']] for no momentum")
    return out


def resolve_x0(variables: Sequence[str], x0: X0, *, option: str = "x0") -> dict[str, float] | None:
    """Check a user's start point against the expression's variables.

    ``option`` names the keyword in messages (``at`` for :func:`gdsolve.gradient`).

    Returns ``{name: value}`` in variable order, or ``None`` when no start was
    given (a random one is drawn later).

    >>> resolve_x0(("x", "y"), {"y": 2, "x": 1})
    {'x': 1.0, 'y': 2.0}
    >>> resolve_x0(("x",), 0.5)
    {'x': 0.5}
    >>> resolve_x0(("x", "y"), 0)
    {'x': 0.0, 'y': 0.0}
    """
    if x0 is None:
        return None
    names = list(variables)
    example = (f"[[{flag(option)} " + ",".join(f"{n}=0" for n in names) + f"||{option}={{"
               + ", ".join(f"'{n}': 0" for n in names) + "}]]")
    x0_ = "{" + option + "}"
    if isinstance(x0, Mapping):
        unknown = [k for k in x0 if k not in names]
        if unknown:
            raise OptionError(
                f"{x0_} names {', '.join(map(str, unknown))}, not a variable of the expression "
                f"(variables: {', '.join(names)})"
            )
        missing = [n for n in names if n not in x0]
        if missing:
            raise OptionError(f"{x0_} is missing {', '.join(missing)}; give every variable, e.g. {example}")
        values = [x0[n] for n in names]
    elif is_real(x0):  # one number for every variable (every element of a shaped one)
        values = [x0] * len(names)
    elif isinstance(x0, Sequence) and not isinstance(x0, (str, bytes)):
        if len(x0) != len(names):
            raise OptionError(
                f"{x0_} gives {len(x0)} values but the expression has {len(names)} variables ({', '.join(names)})"
            )
        values = list(x0)
    else:
        raise OptionError(f"{x0_} must be a mapping, a sequence or a number, not {type(x0).__name__}")
    out: dict[str, float] = {}
    for n, v in zip(names, values):
        try:
            if isinstance(v, (str, bytes, bool)):
                raise TypeError
            fv = float(v)
        except (TypeError, ValueError):
            raise OptionError(f"{x0_} value for {n} is not a number: {shown(v)}") from None
        except OverflowError:
            raise OptionError(f"{x0_} value for {n} is too large for a float: {shown(v)}") from None
        if not math.isfinite(fv):
            raise OptionError(f"{x0_} value for {n} must be finite, got {shown(v)}")
        out[n] = fv
    return out


#: What a sweep may vary: the rate and every numeric method option (a comma list on the command line).
SWEEPABLE = tuple(OPTION_RANGES)


def split_sweep(settings_kw: Mapping[str, Any]) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Take the swept values out of the settings: lists on ``lr`` and on method options.

    Returns ``(axes, settings)``: the axes in the order given, and the
    settings with each list replaced by its first value (so that validating
    them checks the rest of the settings once).

    >>> split_sweep({"lr": [0.1, 0.01], "options": {"momentum": [0.5, 0.9], "beta1": None}, "eps": 1e-6})
    ({'lr': [0.1, 0.01], 'momentum': [0.5, 0.9]}, {'lr': 0.1, 'options': {'momentum': 0.5, 'beta1': None}, 'eps': 1e-06})
    """
    axes: dict[str, list[float]] = {}
    out = dict(settings_kw)
    if _is_list(out.get("lr")):
        axes["lr"] = _sweep_values("lr", out["lr"])
        out["lr"] = axes["lr"][0]
    options = out.get("options")
    if isinstance(options, Mapping):
        options = dict(options)
        for name, value in options.items():
            if _is_list(value):
                if name not in SWEEPABLE:
                    raise OptionError(f"{shown(name)} is not a method option; the options are "
                                      f"{', '.join(n for n in SWEEPABLE if n != 'lr')}")
                axes[name] = _sweep_values(name, value)
                options[name] = axes[name][0]
        out["options"] = options
    return axes, out


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _sweep_values(name: str, values: Sequence[Any]) -> list[float]:
    if not values:
        raise OptionError(f"{{{name}}} gives an empty list of values to sweep")
    out: list[Any] = []
    for v in values:
        if not finite_real(v):
            raise OptionError(f"{{{name}}} values must be finite numbers, got {shown(v)}")
        if v in out:
            raise OptionError(f"{{{name}}} gives {v:g} twice; each value of a sweep once")
        out.append(v)
    return out


