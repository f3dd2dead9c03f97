"""Tail probabilities and quantiles of the normal and Student's t distributions, for p-values and intervals.

One implementation for every report that turns an estimate and its standard error into a test or
an interval: ``minimize --stderr`` (z-values against the normal) and ``fit`` (t-values with the
residual degrees of freedom). Plain floats in, plain floats out: no torch, no scipy (not a
dependency). The normal side is the standard library (:func:`math.erfc`,
:class:`statistics.NormalDist`); Student's t goes through the regularized incomplete beta function
of mpmath, which sympy already brings (imported on first use: the CLI's start-up stays light).

Example:
    >>> round(two_sided_normal_p(1.959963984540054), 6)
    0.05
    >>> round(two_sided_t_p(2.2281388519649385, 10), 6)
    0.05
    >>> round(t_quantile(0.975, 10), 6), round(t_quantile(0.975, math.inf), 6)
    (2.228139, 1.959964)
"""

from __future__ import annotations

import math
from statistics import NormalDist

_NORMAL = NormalDist()


def two_sided_normal_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z: the p-value of a z-value (``nan`` in, ``nan`` out).

    ``erfc`` keeps the far tail to the last representable digit (``two_sided_normal_p(30)`` is
    9.8e-198), where ``1 - cdf`` would be 0 from |z| = 9 on.

    >>> two_sided_normal_p(0.0), two_sided_normal_p(-1.0) == two_sided_normal_p(1.0)
    (1.0, True)
    """
    if math.isnan(z):
        return math.nan
    return math.erfc(abs(z) / math.sqrt(2.0))


def two_sided_t_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom (``df`` = inf: the normal).

    The identity P(|T| >= t) = I_x(df/2, 1/2) with x = df/(df + t^2) is exact and keeps the far
    tail (no ``1 - cdf`` cancellation).

    >>> round(two_sided_t_p(1.0, 1), 12)  # Cauchy: P(|T| >= 1) = 1/2
    0.5
    """
    if math.isnan(t) or math.isnan(df) or df <= 0:
        return math.nan
    if math.isinf(df):
        return two_sided_normal_p(t)
    if math.isinf(t):
        return 0.0
    import mpmath  # sympy's dependency; imported here so `gdsolve --help` does not pay for it

    x = df / (df + t * t)
    return float(mpmath.betainc(df / 2.0, 0.5, 0.0, x, regularized=True))


def normal_quantile(q: float) -> float:
    """The ``q`` quantile of the standard normal, 0 < q < 1.

    >>> round(normal_quantile(0.975), 6)
    1.959964
    """
    return _NORMAL.inv_cdf(q)


def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom, 0 < q < 1 (``df`` = inf: the normal).

    Found by bisection on :func:`two_sided_t_p` (monotone in |t|), bracketed from the normal
    quantile: 200 halvings of a bracket that starts within a factor of 2**k of the answer leave it
    exact to the last bit, at a cost (milliseconds) that a report pays once per parameter.

    >>> round(t_quantile(0.975, 1), 6)  # Cauchy: tan(0.475*pi)
    12.706205
    """
    if not 0.0 < q < 1.0 or math.isnan(df) or df <= 0:
        raise ValueError(f"t_quantile needs 0 < q < 1 and df > 0, not q={q!r}, df={df!r}")
    if q == 0.5:
        return 0.0
    if math.isinf(df):
        return normal_quantile(q)
    tail = 2.0 * min(q, 1.0 - q)  # the two-sided p-value the answer has
    lo, hi = 0.0, max(1.0, abs(normal_quantile(q)))
    while two_sided_t_p(hi, df) > tail:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if two_sided_t_p(mid, df) > tail:
            lo = mid
        else:
            hi = mid
    t = 0.5 * (lo + hi)
    return t if q > 0.5 else -t
