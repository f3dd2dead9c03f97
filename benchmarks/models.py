"""Statistical models as people write them: logit, probit, Poisson, Gamma and a 10-feature OLS, against statsmodels.

Each model is fitted by ``gdsolve.fit`` (with ``family=``; least squares for OLS) and by statsmodels in the same
run, on data bundled with statsmodels and scikit-learn (read from the installed packages, not copied here:
spector, scotland and randhie are statsmodels', diabetes is scikit-learn's). Per model we print the number of
significant digits on which the worst parameter and the worst standard error agree (LRE, as
benchmarks/nist_strd.py), and the time per fit, best of ``REPEATS``: gdsolve's includes parsing the model
text and building its torch function (what a user pays per command); statsmodels' is ``GLM(...).fit()`` or
``OLS(...).fit()`` on a prebuilt design matrix.

    LRE = -log10(max |gdsolve - statsmodels| / |statsmodels|), capped at 15

statsmodels' time is its default fit (IRLS to a relative deviance change of 1e-8); the digits are against its
fit run on to ``tol=1e-15`` (200 iterations at most): the deviance is flat at the answer, so a fit stopped
by a small change in it leaves the parameters short of the digits compared here.
Run: pip install -e ".[bench]" && python benchmarks/models.py
"""

from __future__ import annotations

import math
import sys
import time
import warnings

REPEATS = 5


def linear(names: list[str]) -> str:
    return " + ".join(["b0", *(f"b{i + 1}*{n}" for i, n in enumerate(names))])


def models() -> list[dict]:
    import statsmodels.api as sm
    from sklearn.datasets import load_diabetes

    spector = sm.datasets.spector.load_pandas().data
    scotland = sm.datasets.scotland.load_pandas().data
    randhie = sm.datasets.randhie.load_pandas().data
    diabetes = load_diabetes(as_frame=True).frame
    F, L = sm.families, sm.families.links
    sx, cx, rx, dx = ["GPA", "TUCE", "PSI"], list(scotland.columns[1:]), list(randhie.columns[1:]), list(diabetes.columns[:10])
    return [
        dict(name="logit (spector)", frame=spector, y="GRADE", x=sx, family="binomial", sm=F.Binomial(),
             model=f"GRADE ~ 1/(1 + exp(-({linear(sx)})))"),
        dict(name="probit (spector)", frame=spector, y="GRADE", x=sx, family="binomial", sm=F.Binomial(L.Probit()),
             model=f"GRADE ~ 0.5*(1 + erf(({linear(sx)})/sqrt(2)))"),
        dict(name="Poisson (randhie)", frame=randhie, y="mdvis", x=rx, family="poisson", sm=F.Poisson(),
             model=f"mdvis ~ exp({linear(rx)})"),
        dict(name="Gamma (scotland)", frame=scotland, y="YES", x=cx, family="gamma", sm=F.Gamma(),
             model=f"YES ~ 1/({linear(cx)})"),
        dict(name="OLS 10 features (diabetes)", frame=diabetes, y="target", x=dx, family=None, sm=None,
             model=f"target ~ {linear(dx)}"),
    ]


def lre(ours: list[float], theirs: list[float]) -> float:
    worst = max(abs(a - b) / abs(b) if b else abs(a) for a, b in zip(ours, theirs))
    return 15.0 if worst == 0 else min(15.0, -math.log10(worst))


def best_time(fn) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(REPEATS):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def compare(m: dict) -> tuple:
    """One model: gdsolve's fit and statsmodels', timed, and their agreement."""
    import statsmodels.api as sm

    from gdsolve import fit

    warnings.simplefilter("ignore")  # after the import: statsmodels sets its own filters (the Gamma DomainWarning)
    frame = m["frame"]
    data = {c: frame[c].astype(float).tolist() for c in [m["y"], *m["x"]]}
    exog = sm.add_constant(frame[m["x"]].to_numpy(float), has_constant="add")
    endog = frame[m["y"]].to_numpy(float)
    if m["family"] is None:
        t_sm, ref = best_time(lambda: sm.OLS(endog, exog).fit())
    else:
        t_sm, _ = best_time(lambda: sm.GLM(endog, exog, family=m["sm"]).fit())
        ref = sm.GLM(endog, exog, family=m["sm"]).fit(tol=1e-15, maxiter=200)
    t_gd, r = best_time(lambda: fit(m["model"], data, family=m["family"]))
    names = list(r.params)
    return (m["name"], len(endog), len(names), r.status.value, r.nit,
            lre([r.params[k] for k in names], ref.params.tolist()),
            lre([r.stderr[k] for k in names], ref.bse.tolist()), t_gd, t_sm)


def main() -> int:
    rows = [compare(m) for m in models()]
    print(f"{'model':28s} {'rows':>6s} {'params':>6s} {'status':>10s} {'steps':>5s} {'param digits':>12s} "
          f"{'stderr digits':>13s} {'gdsolve s/fit':>13s} {'statsmodels s/fit':>17s}")
    for name, n, p, status, nit, dp, ds, tg, ts in rows:
        print(f"{name:28s} {n:6d} {p:6d} {status:>10s} {nit:5d} {dp:12.1f} {ds:13.1f} {tg:13.4f} {ts:17.4f}")
    return 0 if all(r[3] == "converged" and r[5] >= 6 and r[6] >= 4 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
