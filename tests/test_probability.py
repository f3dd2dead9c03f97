"""p-values and quantiles against values computed once with scipy.stats (CI has no scipy)."""

import math

import pytest

from gdsolve.core.probability import normal_quantile, t_quantile, two_sided_normal_p, two_sided_t_p

# (t, df, 2*scipy.stats.t.sf(|t|, df))
T_P = [(2.2281388519649385, 10, 0.05), (40.0, 5, 1.8411962171772954e-07), (0.5, 3.5, 0.6468504393225509),
       (-3.0, 1, 0.20483276469913345), (12.0, 200, 2.422136005246625e-25)]


@pytest.mark.parametrize("t, df, p", T_P)
def test_t_p_values_agree_with_scipy(t: float, df: float, p: float) -> None:
    assert two_sided_t_p(t, df) == pytest.approx(p, rel=1e-10)


@pytest.mark.parametrize("q, df, t", [(0.975, 7, 2.364624251592784), (0.025, 3.5, -2.9400886379827296),
                                      (0.995, 1000, 2.580754698065951), (0.9, 2, 1.8856180831641272)])
def test_t_quantiles_agree_with_scipy(q: float, df: float, t: float) -> None:
    assert t_quantile(q, df) == pytest.approx(t, rel=1e-12)


def test_the_normal_tail_is_kept_where_one_minus_cdf_is_zero() -> None:
    assert two_sided_normal_p(30.0) == pytest.approx(9.813427854295816e-198, rel=1e-12)
    assert two_sided_normal_p(1.959963984540054) == pytest.approx(0.05, rel=1e-12)
    assert normal_quantile(0.975) == pytest.approx(1.959963984540054, rel=1e-14)


def test_infinite_degrees_of_freedom_are_the_normal() -> None:
    assert two_sided_t_p(1.7, math.inf) == pytest.approx(two_sided_normal_p(1.7), rel=1e-15)
    assert t_quantile(0.8, math.inf) == pytest.approx(normal_quantile(0.8), rel=1e-15)


def test_undefined_inputs_give_nan_or_a_named_error() -> None:
    assert math.isnan(two_sided_t_p(math.nan, 3)) and math.isnan(two_sided_t_p(1.0, 0))
    assert math.isnan(two_sided_normal_p(math.nan))
    assert two_sided_t_p(math.inf, 4) == 0.0
    with pytest.raises(ValueError, match="0 < q < 1"):
        t_quantile(1.0, 3)
