"""Start points, devices and the memory check."""

from __future__ import annotations

import math

import pytest
import torch

from gdsolve.core.errors import OptionError
from gdsolve.engine.starts import DEFAULT_BOX, box, check_memory, draw_starts, estimate_bytes, resolve_device


def test_starts_fill_the_box_and_the_seed_fixes_them() -> None:
    X = draw_starts(("x", "y", "z"), {"x": (0.0, 1.0), "y": (2.0, math.inf)}, 256, seed=3)
    assert X.shape == (256, 3) and X.dtype == torch.float64
    assert float(X[:, 0].min()) >= 0 and float(X[:, 0].max()) <= 1
    assert float(X[:, 1].min()) >= 2 and float(X[:, 1].max()) <= 2 + DEFAULT_BOX[1] - DEFAULT_BOX[0]
    assert float(X[:, 2].min()) >= DEFAULT_BOX[0] and float(X[:, 2].max()) <= DEFAULT_BOX[1]
    assert torch.equal(X, draw_starts(("x", "y", "z"), {"x": (0.0, 1.0), "y": (2.0, math.inf)}, 256, seed=3))
    assert not torch.equal(X, draw_starts(("x", "y", "z"), {"x": (0.0, 1.0), "y": (2.0, math.inf)}, 256, seed=4))


def test_sobol_covers_the_box_more_evenly_than_chance() -> None:
    # 64 points in 16 equal cells of the square: a low-discrepancy sequence leaves none empty.
    X = draw_starts(("x", "y"), {"x": (0.0, 1.0), "y": (0.0, 1.0)}, 64, seed=0)
    cells = {(int(a * 4), int(b * 4)) for a, b in X.tolist()}
    assert len(cells) == 16


def test_box_beside_one_sided_bounds() -> None:
    assert box(("a", "b"), {"a": (-math.inf, 0.0)}) == ([-20.0, -10.0], [0.0, 10.0])


def test_devices() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    with pytest.raises(OptionError, match="must be one of"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(OptionError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_a_batch_too_large_is_refused_up_front_with_the_estimate_and_a_hint() -> None:
    need = estimate_bytes(10**6, 2, 10, "lbfgs", 100, 8)
    assert need > 10**6 * 2 * 200 * 8  # the history dominates
    with pytest.raises(OptionError) as exc:
        check_memory(10**6, 2, 10, "lbfgs", 100, 8, "cpu", free=need // 2)
    msg = exc.value.cli_message()
    assert "1,000,000 rows need about" in msg and "--starts" in msg and "float32" in msg and "--history-size" in msg
    assert check_memory(1000, 2, 10, "gd", 0, 8, "cpu", free=need) > 0
