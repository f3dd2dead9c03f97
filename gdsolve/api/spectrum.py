"""The one rank test and inverse behind every standard error: ``fit``'s Jacobian and ``minimize --stderr``'s Hessian.

A covariance is the inverse of a curvature matrix, ``V diag(c) V^T`` (``fit``: the Jacobian's singular
values squared, ``J^T J``; ``minimize --stderr``: the Hessian's eigenvalues, :mod:`gdsolve.api.inference`).
Where a curvature is flat the inverse does not exist: the variables along that direction are not
determined separately, and they are named rather than given an infinite standard error. Kept apart from
:mod:`gdsolve.api.inference` (which reads the engine's Hessian) so that ``fit``'s statistics, which the
report draws, import nothing of the engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: A variable whose share of a null (or negative) direction exceeds this is named as involved in it.
INVOLVED = 0.1


def involved(names: Sequence[str], vectors: torch.Tensor) -> list[str]:
    """The names whose component (rows of ``vectors``, one column per direction) exceeds :data:`INVOLVED`.

    >>> involved(["a", "b", "c"], torch.tensor([[0.7071], [-0.7071], [0.0]]))
    ['a', 'b']
    """
    if vectors.numel() == 0:
        return []
    weight = vectors.abs().amax(dim=1)
    return [n for n, w in zip(names, weight.tolist()) if w > INVOLVED]


def covariance_from_spectrum(names: Sequence[str], curvature: torch.Tensor, vectors: torch.Tensor, tol: float, *,
                             matrix: str, by: str) -> tuple[torch.Tensor | None, str | None]:
    """The inverse of ``V diag(curvature) V^T`` (the columns of ``vectors`` orthonormal), or why there is none.

    ``names``: the variables, one per row of ``vectors``; ``tol``: the curvature at or below which a
    direction is flat. A curvature below ``-tol`` means the matrix is not positive definite (the point is
    not a minimum); one within ``tol`` of 0 that it is singular: the variables along those directions
    (:func:`involved`) are not determined separately ``by`` the objective or the data. ``matrix`` names
    the matrix in the reason (``"Hessian"``, ``"Jacobian"``: the Jacobian's curvatures are its singular values
    squared). Returns ``(covariance, None)`` or ``(None, reason)``.

    >>> V = torch.eye(2, dtype=torch.float64)
    >>> covariance_from_spectrum(["a", "b"], torch.tensor([4.0, 0.25]), V, 1e-12, matrix="Hessian", by="f")[0].tolist()
    [[0.25, 0.0], [0.0, 4.0]]
    >>> covariance_from_spectrum(["a", "b"], torch.tensor([4.0, 0.0]), V, 1e-12, matrix="Hessian", by="f")[1]
    'the Hessian is singular at the answer (rank 1 of 2): b are not determined separately by f'
    """
    size = len(names)
    negative = curvature < -tol
    if bool(negative.any()):
        where = involved(names, vectors[:, negative])
        return None, (f"the {matrix} is not positive definite at the answer (curvature "
                      f"{float(curvature.min()):.3g} along {', '.join(where) or 'the variables'}): the point is a "
                      "saddle or a maximum, not a minimum, so it has no standard errors")
    flat = curvature <= tol
    rank = size - int(flat.sum())
    if rank < size:
        where = involved(names, vectors[:, flat])
        return None, (f"the {matrix} is singular at the answer (rank {rank} of {size}): "
                      f"{', '.join(where) or 'the parameters'} are not determined separately by {by}")
    return (vectors / curvature) @ vectors.T, None
