"""Where the rows of a batch start, where they run, and whether they fit.

Start points (``--starts N``) are a scrambled Sobol sequence (torch's
``SobolEngine``, scrambled with the seed) mapped into the box: ``--bounds``
where a variable has both ends, :data:`DEFAULT_BOX` where it has none, and a
box of the same width beside a one-sided bound. Sobol rather than uniform:
a low-discrepancy sequence covers the box evenly -- no clumps, no large
empty regions -- so N starts find more basins than N uniform draws do, and
the seed still makes them reproducible. Starts are always drawn in float64
on the CPU and then moved, so a seed gives the same starts on every device
and in every dtype.

Example:
    >>> X = draw_starts(("x", "y"), {"x": (0.0, 1.0)}, 4, seed=0)
    >>> X.shape, bool((X[:, 0] >= 0).all() and (X[:, 0] <= 1).all()), bool((X[:, 1].abs() <= 10).all())
    (torch.Size([4, 2]), True, True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch

from ..core.errors import OptionError, shown
from ..core.settings import Bounds

#: The box a variable without bounds is sampled in.
DEFAULT_BOX = (-10.0, 10.0)
DEVICES = ("auto", "cpu", "cuda", "mps")
MEMORY_FRACTION = 0.8  # refuse a batch whose estimate exceeds this share of the free memory


def box(names: Sequence[str], bounds: Bounds) -> tuple[list[float], list[float]]:
    """The sampling box per variable: the bounds, or :data:`DEFAULT_BOX` (shifted beside a one-sided bound)."""
    width = DEFAULT_BOX[1] - DEFAULT_BOX[0]
    lo, hi = [], []
    for n in names:
        a, b = bounds.get(n, (-math.inf, math.inf))
        if math.isfinite(a) and math.isfinite(b):
            lo.append(a), hi.append(b)
        elif math.isfinite(a):
            lo.append(a), hi.append(a + width)
        elif math.isfinite(b):
            lo.append(b - width), hi.append(b)
        else:
            lo.append(DEFAULT_BOX[0]), hi.append(DEFAULT_BOX[1])
    return lo, hi


def check_start(names: Sequence[str], bounds: Bounds, x0: dict[str, float] | None) -> tuple[list[float], list[float]]:
    """Check the bounds name variables and a given start lies inside them; return the bounds per variable."""
    unknown = [n for n in bounds if n not in names]
    if unknown:
        raise OptionError(f"{{bounds}} names {', '.join(unknown)}, not a variable of the expression ({', '.join(names)})")
    lo = [bounds.get(n, (-math.inf, math.inf))[0] for n in names]
    hi = [bounds.get(n, (-math.inf, math.inf))[1] for n in names]
    if x0 is not None:
        outside = [f"{n}={x0[n]:g}" for n, a, b in zip(names, lo, hi) if not a <= x0[n] <= b]
        if outside:
            raise OptionError(f"{{x0}} {', '.join(outside)} lies outside {{bounds}}; start inside them")
    return lo, hi


def random_start(names: Sequence[str], lo: Sequence[float], hi: Sequence[float], seed: int) -> list[float]:
    """A seeded start for one run: standard normal, or inside the bounds where there are some."""
    gen = torch.Generator().manual_seed(seed)
    normal = torch.randn(len(names), generator=gen, dtype=torch.float64).tolist()
    uniform = torch.rand(len(names), generator=gen, dtype=torch.float64).tolist()
    out = []
    for n, u, a, b in zip(normal, uniform, lo, hi):
        if math.isfinite(a) and math.isfinite(b):
            out.append(a + (b - a) * u)
        elif math.isfinite(a):
            out.append(a + abs(n))
        elif math.isfinite(b):
            out.append(b - abs(n))
        else:
            out.append(n)
    return out


def draw_starts(names: Sequence[str], bounds: Bounds, n: int, seed: int) -> torch.Tensor:
    """``n`` start points ``(n, d)`` in float64 on the CPU: scrambled Sobol in the box."""
    d = len(names)
    lo, hi = box(names, bounds)
    if d <= torch.quasirandom.SobolEngine.MAXDIM:
        U = torch.quasirandom.SobolEngine(d, scramble=True, seed=seed).draw(n, dtype=torch.float64)
    else:  # beyond Sobol's 21201 dimensions: uniform
        U = torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    lo_t, hi_t = torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64)
    return lo_t + (hi_t - lo_t) * U


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``mps``, else ``cpu``; refuse one that is not there."""
    if name not in DEVICES:
        raise OptionError(f"{{device}} must be one of {', '.join(DEVICES)}, got {shown(name)}")
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if name == "cuda" and not cuda:
        raise OptionError("{device} cuda: torch sees no CUDA GPU here (torch.cuda.is_available() is False); "
                          "use [[--device cpu||device='cpu']] or auto")
    if name == "mps" and not mps:
        raise OptionError("{device} mps: torch sees no Apple GPU here; use [[--device cpu||device='cpu']] or auto")
    return name


def _state_floats(method: str, history_size: int) -> int:
    """Floats per variable that a method keeps per row (besides x, the gradient and the engine's own)."""
    return {"gd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "adamw": 2, "rmsprop": 2, "adagrad": 1,
            "lbfgs": 4 * history_size + 16}[method]  # S and Y, and their newest-first copies in the two-loop


def estimate_bytes(rows: int, d: int, operations: int, method: str, history_size: int, itemsize: int) -> int:
    """Memory a batch of ``rows`` needs: per row, the engine's vectors (x, gradient, best point,
    scale, step: about 12 of length d), the method's state, and the objective's intermediate values
    that autograd keeps for the backward pass (about two per operation of the formula).

    Measured (peak RSS less the ~0.4 GiB of a bare import, 2-D Rosenbrock): gd at 2,000,000 rows
    uses 1.0 GiB against an estimate of 1.0 GiB; lbfgs (history 100, 20 iterations) at 500,000 rows 3.0 GiB against 4.5 GiB
    (the estimate allows for the full history)."""
    per_row = (12 + _state_floats(method, history_size)) * d + 2 * operations + 24
    if method == "lbfgs":  # the two-loop recursion's per-pair indices, masks and coefficients
        per_row += 3 * history_size
    return rows * per_row * itemsize


def available_bytes(device: str) -> int | None:
    """Free memory on ``device``, or ``None`` where it cannot be read."""
    if device == "cuda":
        free, _ = torch.cuda.mem_get_info()
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(rows: int, d: int, operations: int, method: str, history_size: int, itemsize: int,
                 device: str, free: int | None = None) -> int:
    """Refuse, up front, a batch that would not fit: never an out-of-memory kill half way. Returns the estimate."""
    need = estimate_bytes(rows, d, operations, method, history_size, itemsize)
    free = available_bytes(device) if free is None else free
    if free is not None and need > MEMORY_FRACTION * free:
        fit = max(1, int(MEMORY_FRACTION * free * rows / need))
        hints = ["fewer {starts} (about " + f"{fit:,}" + " fit)"]
        if itemsize == 8:
            hints.append("[[--dtype float32||dtype='float32']] (half the memory)")
        if method == "lbfgs" and history_size > 10:
            hints.append("a smaller {history_size}")
        raise OptionError(f"{rows:,} rows need about {_size(need)} on {device} ({d} variables, method {method}), "
                          f"more than the {_size(free)} free; use " + ", or ".join(hints))
    return need


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover
