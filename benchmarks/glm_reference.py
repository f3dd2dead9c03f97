"""Write the reference values tests/test_likelihood.py checks ``fit --family`` against (run once; needs statsmodels).

The data are statsmodels' public-domain datasets (their COPYRIGHT says so: anes96, randhie, strikes,
longley, statecrime), copied to tests/data/ (anes96 to examples/, for the README) with only the columns the models read, so CI
needs no statsmodels. statsmodels' spector, scotland and cpunish are "used with express permission of the
original author, who retains all rights": benchmarks/models.py reads them from an installed statsmodels,
they are not copied here.

    .venv/bin/pip install -e ".[bench]" && .venv/bin/python benchmarks/glm_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import statsmodels.api as sm

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def logistic(eta: str) -> str:
    return f"1/(1+exp(-({eta})))"


def probit(eta: str) -> str:
    return f"0.5*(1 + erf(({eta})/sqrt(2)))"


def linear(names: list[str]) -> str:
    return " + ".join(["b0", *(f"b{i + 1}*{n}" for i, n in enumerate(names))])


def cases() -> list[dict]:
    F, L = sm.families, sm.families.links
    anes = sm.datasets.anes96.load_pandas().data[["vote", "age", "educ", "income", "selfLR"]]
    randhie = sm.datasets.randhie.load_pandas().data.iloc[:400]
    strikes = sm.datasets.strikes.load_pandas().data
    longley = sm.datasets.longley.load_pandas().data
    crime = sm.datasets.statecrime.load_pandas().data.reset_index(drop=True)[["hs_grad", "poverty", "urban"]]
    ax = ["age", "educ", "income", "selfLR"]
    rx = list(randhie.columns[1:])
    lx = list(longley.columns[1:])
    return [
        dict(name="logit", csv="examples/anes96.csv", frame=anes, y="vote", x=ax, family="binomial",
             model="vote ~ " + logistic(linear(ax)), sm_family=F.Binomial()),
        dict(name="probit", csv="examples/anes96.csv", frame=anes, y="vote", x=ax, family="binomial",
             model="vote ~ " + probit(linear(ax)), sm_family=F.Binomial(L.Probit())),
        dict(name="poisson", csv="tests/data/randhie400.csv", frame=randhie, y="mdvis", x=rx, family="poisson",
             model="mdvis ~ exp(" + linear(rx) + ")", sm_family=F.Poisson()),
        dict(name="gamma_log", csv="tests/data/strikes.csv", frame=strikes, y="duration", x=["iprod"], family="gamma",
             model="duration ~ exp(b0 + b1*iprod)", sm_family=F.Gamma(L.Log())),
        dict(name="gaussian", csv="tests/data/longley.csv", frame=longley, y="TOTEMP", x=lx, family="gaussian",
             model="TOTEMP ~ " + linear(lx), sm_family=F.Gaussian()),
        dict(name="proportion", csv="tests/data/statecrime.csv", frame=crime, y="hs_grad/100", x=["poverty", "urban"],
             family="binomial", model="hs_grad/100 ~ " + logistic(linear(["poverty", "urban"])),
             sm_family=F.Binomial(), endog=crime["hs_grad"] / 100),
    ]


def main() -> None:
    out = {}
    for c in cases():
        frame = c["frame"]
        frame.to_csv(ROOT / c["csv"], index=False)
        endog = c.get("endog", frame[c["y"]] if c["y"] in frame else None)
        exog = sm.add_constant(frame[c["x"]].to_numpy(dtype=float), has_constant="add")
        r = sm.GLM(np.asarray(endog, dtype=float), exog, family=c["sm_family"]).fit(tol=1e-14, maxiter=1000)
        fixed = c["family"] in ("binomial", "poisson")
        if not fixed:  # R's summary: t with the residual degrees of freedom where the dispersion is estimated
            r = sm.GLM(np.asarray(endog, dtype=float), exog, family=c["sm_family"]).fit(tol=1e-14, maxiter=1000,
                                                                                       use_t=True)
        names = [f"b{i}" for i in range(exog.shape[1])]
        out[c["name"]] = {
            "csv": c["csv"], "model": c["model"], "family": c["family"],
            "params": dict(zip(names, r.params.tolist())), "stderr": dict(zip(names, r.bse.tolist())),
            "p_value": dict(zip(names, r.pvalues.tolist())),
            "conf_int": dict(zip(names, np.asarray(r.conf_int()).tolist())),
            "deviance": r.deviance, "null_deviance": r.null_deviance, "loglik": r.llf, "aic": r.aic,
            "bic": r.bic_llf, "dispersion": r.scale, "pearson_chi2": r.pearson_chi2, "dof": int(r.df_resid),
        }
    (DATA / "glm_reference.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
