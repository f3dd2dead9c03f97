"""The numerically stable functions of the grammar, as sympy functions that know their derivatives.

A statistician's formula is full of ``log(1+exp(x))``, ``log(Phi(x))`` and
``x*log(y)``: written out, they overflow or lose every digit at the ends
(``log(1+exp(800))`` is ``inf``, ``log(Phi(-40))`` is ``log(0)``). The
functions here are the same mathematics under their own names, so that:

* :func:`gdsolve.formula.objective.lambdify_torch` prints each one as a call
  to its torch kernel (``torch.logaddexp``, ``torch.special.log_ndtr``...),
  stable in value and in gradient;
* sympy differentiates them (``fdiff``), for ``gdsolve grad`` and
  ``--verify``, and prints the derivative with the names the user types
  (``d softplus(x)/dx = sigmoid(x)``), so a gradient can be typed back;
* sympy evaluates them to any precision (``_eval_evalf``, through mpmath,
  which has no overflow: ``softplus(800)`` is a number there);
* a constant argument is folded in floating point by :data:`FLOAT`, with the
  same care (``math.log1p``, ``math.lgamma``, mpmath's ``ncdf``).

``log1p``, ``expm1`` (sympy's ``codegen`` functions) and ``erf`` are sympy's own.

>>> x = sympy.Symbol("x", real=True)
>>> sympy.diff(softplus(x), x), sympy.diff(lognormcdf(x), x)
(sigmoid(x), sqrt(2)*exp(-x**2/2 - lognormcdf(x))/(2*sqrt(pi)))
>>> float(lognormcdf(-40).evalf(20))
-804.6084420137538
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import sympy
from mpmath.libmp import prec_to_dps
from sympy.codegen.cfunctions import expm1, log1p

__all__ = ["FLOAT", "MAX_POLYGAMMA_ORDER", "SYMPY", "digamma", "erfc", "expm1", "lgamma", "log1p", "logsigmoid",
           "logsumexp", "lognormcdf", "normcdf", "polygamma", "sigmoid", "softplus", "written_out", "xlogy"]


def _erfc(x: Any) -> Any:
    """mpmath's erfc, and past |x| = 1e100 (where mpmath's own overflows a float inside) its asymptotic form,
    exact there to far more digits than asked: the next term is 1/(2*x**2) smaller."""
    if abs(x) <= 1e100:
        return mpmath.erfc(x)
    tail = mpmath.exp(-x * x) / (abs(x) * mpmath.sqrt(mpmath.pi))
    return tail if x > 0 else 2 - tail


def _ncdf(x: Any) -> Any:
    return _erfc(-x / mpmath.sqrt(2)) / 2


class _Defined(sympy.Function):
    """A function given by a formula (:meth:`formula`) that sympy evaluates at any precision, never simplifies
    into, and never folds on its own (a constant argument is folded by the parser, in floating point)."""

    @classmethod
    def formula(cls, *args: Any) -> Any:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    @staticmethod
    def mp(*args: Any) -> Any:  # pragma: no cover - every subclass defines it
        """The value from mpmath numbers, at mpmath's working precision."""
        raise NotImplementedError

    def _eval_evalf(self, prec: int) -> Any:
        if not all(a.is_number for a in self.args):
            return None
        # mpmath, not the sympy formula: sympy would evaluate loggamma(10**300) through an exact factorial.
        # mpmath has no overflow (exp(800) is a number there); 30 guard bits cover the cancellations inside.
        with mpmath.workprec(prec + 30):
            args = [a.evalf(prec_to_dps(prec + 30))._to_mpmath(prec + 30) for a in self.args]
            value = self.mp(*args)
        return sympy.Expr._from_mpmath(value, prec)

    def _eval_is_real(self) -> bool | None:
        return all(a.is_real for a in self.args) or None


# Lower-case class names: sympy prints a function by its class's name, and it must be the name the user types.
class sigmoid(_Defined):
    """``1/(1 + exp(-x))``; torch.sigmoid."""

    mp = staticmethod(lambda x: 1 / (1 + mpmath.exp(-x)))

    nargs = 1

    @classmethod
    def formula(cls, x: Any) -> Any:
        return 1 / (1 + sympy.exp(-x))

    def fdiff(self, argindex: int = 1) -> Any:
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))


class softplus(_Defined):
    """``log(1 + exp(x))``; torch.logaddexp(x, 0)."""

    mp = staticmethod(lambda x: mpmath.log(1 + mpmath.exp(x)))

    nargs = 1

    @classmethod
    def formula(cls, x: Any) -> Any:
        return sympy.log(1 + sympy.exp(x))

    def fdiff(self, argindex: int = 1) -> Any:
        return sigmoid(self.args[0])


class logsigmoid(_Defined):
    """``log(sigmoid(x)) = -softplus(-x)``; torch.nn.functional.logsigmoid."""

    mp = staticmethod(lambda x: -mpmath.log(1 + mpmath.exp(-x)))

    nargs = 1

    @classmethod
    def formula(cls, x: Any) -> Any:
        return -sympy.log(1 + sympy.exp(-x))

    def fdiff(self, argindex: int = 1) -> Any:
        return sigmoid(-self.args[0])


class normcdf(_Defined):
    """The standard normal distribution function Phi(x); torch.special.erfc(-x/sqrt(2))/2."""

    mp = staticmethod(_ncdf)

    nargs = 1

    @classmethod
    def formula(cls, x: Any) -> Any:
        return sympy.erfc(-x / sympy.sqrt(2)) / 2

    def fdiff(self, argindex: int = 1) -> Any:
        x = self.args[0]
        return sympy.exp(-x**2 / 2) / sympy.sqrt(2 * sympy.pi)


class lognormcdf(_Defined):
    """``log(Phi(x))``; torch.special.log_ndtr."""

    mp = staticmethod(lambda x: mpmath.log(_ncdf(x)))

    nargs = 1

    @classmethod
    def formula(cls, x: Any) -> Any:
        return sympy.log(sympy.erfc(-x / sympy.sqrt(2)) / 2)

    def fdiff(self, argindex: int = 1) -> Any:
        # phi(x)/Phi(x) written as exp(-x**2/2 - lognormcdf(x))/sqrt(2*pi): typed back, it stays finite at x = -40,
        # where phi and Phi both underflow to 0.
        x = self.args[0]
        return sympy.exp(-x**2 / 2 - lognormcdf(x)) / sympy.sqrt(2 * sympy.pi)


class erfc(_Defined):
    """``1 - erf(x)``, kept in the tail; torch.special.erfc. sympy's own would be evaluated by mpmath's, which
    fails past |x| = 1e154."""

    mp = staticmethod(_erfc)
    nargs = 1

    @classmethod
    def formula(cls, x: Any) -> Any:
        return sympy.erfc(x)

    def fdiff(self, argindex: int = 1) -> Any:
        return -2 * sympy.exp(-self.args[0]**2) / sympy.sqrt(sympy.pi)


class xlogy(_Defined):
    """``x*log(y)``, 0 where x is 0 (y = 0 included); torch.special.xlogy."""

    mp = staticmethod(lambda x, y: mpmath.mpf(0) if x == 0 else x * mpmath.log(y))

    nargs = 2

    @classmethod
    def eval(cls, x: Any, y: Any) -> Any:
        if x.is_zero:
            return sympy.S.Zero
        return None

    @classmethod
    def formula(cls, x: Any, y: Any) -> Any:
        return x * sympy.log(y)

    def _eval_is_real(self) -> bool | None:
        x, y = self.args
        return (x.is_real and y.is_positive) or None  # log of a negative y is not real

    def fdiff(self, argindex: int = 1) -> Any:
        x, y = self.args
        return sympy.log(y) if argindex == 1 else x / y


class lgamma(_Defined):
    """``log|Gamma(x)|``; torch.lgamma (math.lgamma): real for negative x too."""

    mp = staticmethod(lambda x: mpmath.re(mpmath.loggamma(x)))

    nargs = 1

    @classmethod
    def formula(cls, x: Any) -> Any:
        return sympy.re(sympy.loggamma(x))

    def fdiff(self, argindex: int = 1) -> Any:
        return digamma(self.args[0])


class digamma(_Defined):
    """The derivative of lgamma, ``polygamma(0, x)``; torch.special.digamma."""

    mp = staticmethod(mpmath.digamma)

    nargs = 1

    @classmethod
    def formula(cls, x: Any) -> Any:
        return sympy.polygamma(0, x)

    def fdiff(self, argindex: int = 1) -> Any:
        return polygamma(1, self.args[0])


class polygamma(_Defined):
    """The n-th derivative of digamma, n a whole number; torch.special.polygamma. sympy's own polygamma would
    fold polygamma(1, 10**6) through an exact harmonic number, which takes minutes."""

    mp = staticmethod(lambda n, x: mpmath.polygamma(int(n), x))
    nargs = 2

    @classmethod
    def formula(cls, n: Any, x: Any) -> Any:
        return sympy.polygamma(n, x)

    def fdiff(self, argindex: int = 2) -> Any:
        n, x = self.args
        if argindex == 1:
            raise sympy.ArgumentIndexError(self, argindex)  # the order is a whole number, not a variable
        return polygamma(n + 1, x)


class logsumexp(_Defined):
    """``log(exp(a) + exp(b) + ...)`` of several arguments (torch.logaddexp); of one shaped argument, the
    reduction over its elements (torch.logsumexp), which on a number is the number."""

    mp = staticmethod(lambda *a: mpmath.log(mpmath.fsum(mpmath.exp(v) for v in a)))

    @classmethod
    def formula(cls, *args: Any) -> Any:
        return sympy.log(sympy.Add(*[sympy.exp(a) for a in args]))

    def fdiff(self, argindex: int = 1) -> Any:
        if len(self.args) == 1:
            return sympy.S.One
        return sympy.exp(self.args[argindex - 1] - self)


def written_out(expr: Any) -> Any:
    """``expr`` with each stable function replaced by its defining formula, for sympy's ``solve``.

    >>> written_out(softplus(sympy.Symbol("x")) + log1p(sympy.Symbol("y")))
    log(y + 1) + log(exp(x) + 1)
    """
    return expr.replace(lambda e: isinstance(e, (_Defined, log1p, expm1)),
                        lambda e: sympy.log(1 + e.args[0]) if isinstance(e, log1p) else
                        sympy.exp(e.args[0]) - 1 if isinstance(e, expm1) else e.formula(*e.args))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _logsumexp(*args: float) -> float:
    top = max(args)
    if math.isinf(top):
        return top
    return top + math.log(math.fsum(math.exp(a - top) for a in args))


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


#: The highest order ``polygamma(n, x)`` takes: mpmath needs most of a minute for ``polygamma(10**6, 2)``.
MAX_POLYGAMMA_ORDER = 100


def _polygamma(n: float, x: float) -> float:
    if n != int(n) or not 0 <= n <= MAX_POLYGAMMA_ORDER:
        raise ValueError(f"polygamma's order n is a whole number from 0 to {MAX_POLYGAMMA_ORDER}")
    return float(mpmath.polygamma(int(n), x))


#: Each function's value at constant arguments, in floating point, stable where the function is.
FLOAT: dict[str, Any] = {
    "log1p": math.log1p,
    "expm1": math.expm1,
    "erfc": math.erfc,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "logsigmoid": lambda x: -_softplus(-x),
    "logsumexp": _logsumexp,
    "xlogy": _xlogy,
    "normcdf": lambda x: 0.5 * math.erfc(-x / math.sqrt(2)),
    "lognormcdf": lambda x: float(mpmath.log(_ncdf(mpmath.mpf(x)))),
    "lgamma": math.lgamma,
    "digamma": lambda x: float(mpmath.digamma(x)),
    "polygamma": _polygamma,
}

#: The sympy function behind each name.
SYMPY: dict[str, Any] = {
    "log1p": log1p, "expm1": expm1, "erfc": erfc, "sigmoid": sigmoid, "softplus": softplus,
    "logsigmoid": logsigmoid, "logsumexp": logsumexp, "xlogy": xlogy, "normcdf": normcdf, "lognormcdf": lognormcdf,
    "lgamma": lgamma, "digamma": digamma, "polygamma": polygamma,
}
