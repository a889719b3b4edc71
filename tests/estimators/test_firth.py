"""Firth's method: published logistf results, score equations, an independent scipy implementation."""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import optimize, stats
from scipy.special import expit
from sklearn.utils.estimator_checks import parametrize_with_checks

from torchlogit import LogisticRegression, PerfectSeparationWarning
from torchlogit.estimators.firth import FirthLogisticRegression

# logistf's sex2 data (urinary tract infection, Cytel LogXact manual; 239 rows, all binary), as
# (case, age, oc, vic, vicl, vis, dia) patterns with their counts (logistf's `sexagg` aggregation).
SEX2 = [
    ((1, 0, 0, 0, 0, 1, 0), 1), ((1, 0, 0, 1, 0, 0, 0), 14), ((1, 0, 0, 1, 0, 1, 0), 3),
    ((1, 0, 0, 1, 1, 0, 0), 10), ((1, 0, 0, 1, 1, 1, 0), 12), ((1, 0, 0, 1, 1, 1, 1), 1),
    ((1, 0, 1, 0, 0, 0, 0), 44), ((1, 0, 1, 0, 0, 0, 1), 3), ((1, 0, 1, 1, 0, 0, 0), 15),
    ((1, 0, 1, 1, 0, 0, 1), 1), ((1, 0, 1, 1, 0, 1, 0), 2), ((1, 0, 1, 1, 1, 0, 0), 7),
    ((1, 0, 1, 1, 1, 1, 0), 3), ((1, 1, 0, 1, 0, 0, 0), 2), ((1, 1, 0, 1, 0, 1, 0), 1),
    ((1, 1, 0, 1, 0, 1, 1), 1), ((1, 1, 0, 1, 1, 0, 0), 1), ((1, 1, 0, 1, 1, 1, 1), 1),
    ((1, 1, 1, 0, 0, 0, 0), 5), ((1, 1, 1, 1, 0, 0, 0), 3), ((0, 0, 0, 0, 0, 1, 0), 1),
    ((0, 0, 0, 1, 0, 0, 0), 2), ((0, 0, 0, 1, 0, 1, 0), 1), ((0, 0, 0, 1, 1, 0, 0), 8),
    ((0, 0, 0, 1, 1, 1, 0), 18), ((0, 0, 1, 0, 0, 0, 0), 42), ((0, 0, 1, 0, 0, 1, 0), 1),
    ((0, 0, 1, 1, 0, 0, 0), 1), ((0, 0, 1, 1, 1, 0, 0), 5), ((0, 0, 1, 1, 1, 1, 0), 6),
    ((0, 1, 0, 1, 1, 0, 0), 2), ((0, 1, 0, 1, 1, 1, 0), 4), ((0, 1, 1, 0, 0, 0, 0), 14),
    ((0, 1, 1, 0, 0, 1, 0), 1), ((0, 1, 1, 1, 0, 0, 0), 1), ((0, 1, 1, 1, 1, 1, 0), 2),
]
# logistf(case ~ age + oc + vic + vicl + vis + dia, data = sex2): coefficients and 95% profile
# penalised-likelihood limits, as recorded from logistf in firthlogist's test suite
# (github.com/jzluo/firthlogist, firthlogist/tests/test_firthlogist.py); the coefficients also in
# logistf's own tests (github.com/georgheinze/logistf, tests/testthat/test-basic.R).
# Order: age, oc, vic, vicl, vis, dia, (Intercept).
SEX2_COEF = [-1.10598131, -0.06881673, 2.26887464, -2.11140817, -0.78831694, 3.09601166, 0.12025405]
SEX2_CI = [[-1.9737884, -0.30742514], [-0.9414363, 0.78920202], [1.2730216, 3.43543273],
           [-3.2608611, -1.11773495], [-1.6080879, 0.01518468], [0.7745682, 8.03029352],
           [-0.8185591, 1.07315122]]
SEX2_PENALISED_LOGLIK = -132.5394  # firthlogist README, same data and model

# Endometrial cancer data of Heinze & Schemper (2002, Stat Med 21:2409), NV quasi-separated.
# Rows of (NV, PI, EH, HG). Firth estimates and profile limits (logistf, recorded in firthlogist's
# tests; Heinze & Schemper's Table: NV 2.93 [0.61, 7.85], PI -0.03 [-0.12, 0.04], EH -2.60
# [-4.37, -1.23]). Order: NV, PI, EH, (Intercept).
ENDOMETRIAL = np.array([
    [0, 13, 1.64, 0], [0, 16, 2.26, 0], [0, 8, 3.14, 0], [0, 34, 2.68, 0], [0, 20, 1.28, 0],
    [0, 5, 2.31, 0], [0, 17, 1.8, 0], [0, 10, 1.68, 0], [0, 26, 1.56, 0], [0, 17, 2.31, 0],
    [0, 8, 2.01, 0], [0, 7, 1.89, 0], [0, 20, 3.15, 0], [0, 10, 1.23, 0], [0, 18, 1.27, 0],
    [0, 16, 1.76, 0], [0, 18, 2, 0], [0, 8, 2.64, 1], [0, 29, 0.88, 1], [0, 12, 1.27, 1],
    [0, 20, 1.37, 1], [1, 38, 0.97, 1], [1, 22, 1.14, 1], [1, 7, 0.88, 1], [1, 25, 0.91, 1],
    [1, 15, 0.58, 1], [0, 7, 0.97, 1], [0, 28, 1.5, 0], [0, 11, 1.33, 0], [0, 19, 2.37, 0],
    [0, 10, 1.82, 0], [0, 10, 3.13, 0], [0, 18, 1.31, 0], [0, 14, 1.92, 0], [0, 21, 1.64, 0],
    [0, 11, 2.01, 0], [0, 17, 1.88, 0], [0, 25, 1.93, 0], [0, 16, 2.11, 0], [0, 19, 1.29, 0],
    [0, 15, 1.72, 0], [0, 33, 0.75, 0], [0, 24, 1.92, 0], [0, 48, 1.84, 1], [0, 12, 1.11, 1],
    [0, 19, 1.61, 1], [0, 2, 1.18, 1], [1, 22, 1.44, 1], [1, 40, 1.18, 1], [1, 5, 0.93, 1],
    [1, 0, 1.17, 1], [0, 21, 1.19, 1], [0, 15, 1.06, 1], [0, 29, 2.02, 0], [0, 15, 2.29, 0],
    [0, 12, 2.33, 0], [0, 3, 2.9, 0], [0, 20, 1.7, 0], [0, 23, 1.41, 0], [0, 12, 2.25, 0],
    [0, 22, 1.54, 0], [0, 42, 1.97, 0], [0, 15, 1.75, 0], [0, 13, 2.16, 0], [0, 14, 2.57, 0],
    [0, 19, 1.37, 0], [0, 12, 3.61, 0], [0, 13, 2.04, 0], [0, 10, 2.17, 0], [0, 12, 1.69, 1],
    [1, 49, 0.27, 1], [0, 6, 1.84, 1], [0, 5, 1.3, 1], [0, 17, 0.96, 1], [1, 11, 1.01, 1],
    [1, 21, 0.98, 1], [0, 5, 0.35, 1], [1, 19, 1.02, 1], [0, 33, 0.85, 1],
])
ENDO_COEF = [2.92927330, -0.03475175, -2.60416387, 3.77455951]
ENDO_CI = [[0.6097244, 7.85463171], [-0.1244587, 0.04045547], [-4.3651832, -1.23272106],
           [1.0825371, 7.20928050]]


# Firth's penalty log det I(β) needs a full-rank design, as in logistf ("singularity detected"):
# these two checks fit 30 columns to 15 rows, and data with linearly dependent columns.
_RANK_DEFICIENT = "Firth's method needs a full-rank design (n > p, no collinear columns)"


@parametrize_with_checks([FirthLogisticRegression()], expected_failed_checks=lambda est: {
    "check_sample_weight_equivalence_on_dense_data": _RANK_DEFICIENT,
    "check_array_api_input": _RANK_DEFICIENT,
})
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def sex2(aggregated=False):
    patterns = np.array([p for p, _ in SEX2], dtype=float)
    counts = np.array([c for _, c in SEX2], dtype=float)
    if not aggregated:
        patterns, counts = np.repeat(patterns, counts.astype(int), axis=0), None
    return patterns[:, 1:], patterns[:, 0].astype(int), counts


def _const_last(values):
    """Our tables list the intercept first; the references list it last."""
    values = np.asarray(values)
    return np.concatenate([values[1:], values[:1]])


@pytest.fixture(scope="module")
def sex2_fit():
    X, y, _ = sex2()
    firth = FirthLogisticRegression().fit(X, y)
    return X, y, firth, firth.summary(X, y)


def test_sex2_matches_logistf(sex2_fit):
    X, _, firth, res = sex2_fit
    assert X.shape == (239, 6) and firth.converged_
    assert_allclose(np.r_[firth.coef_[0], firth.intercept_], SEX2_COEF, rtol=1e-6)
    assert_allclose(_const_last(res.params), SEX2_COEF, rtol=1e-6)
    assert_allclose(_const_last(res.conf_int()), SEX2_CI, rtol=1e-6)
    assert_allclose(res.llf, SEX2_PENALISED_LOGLIK, atol=1e-4)
    assert res.method == "Firth (penalised ML)" and res.test_label == "chi2"


def test_named_features_give_named_results(sex2_fit):
    X, y, _, res = sex2_fit
    names = ["age", "oc", "vic", "vicl", "vis", "dia"]
    named = FirthLogisticRegression().fit(pd.DataFrame(X, columns=names), y).summary(
        pd.DataFrame(X, columns=names), y)
    assert list(named.params.index) == ["const", *names]
    assert_allclose(named.params["dia"], np.asarray(res.params)[-1], rtol=1e-10)
    assert isinstance(res.params, np.ndarray)  # arrays in, arrays out (as statsmodels)


def test_sex2_aggregated_with_frequency_weights(sex2_fit):
    # logistf's `sexagg` example: the same fit from 36 patterns and weights=COUNT
    _, _, _, res = sex2_fit
    Xa, ya, counts = sex2(aggregated=True)
    firth = FirthLogisticRegression().fit(Xa, ya, sample_weight=counts)
    agg = firth.summary(Xa, ya, sample_weight=counts)
    assert agg.nobs == 239
    assert_allclose(agg.params, res.params, rtol=1e-8)
    assert_allclose(agg.conf_int(), res.conf_int(), rtol=1e-7)
    assert_allclose(agg.pvalues, res.pvalues, rtol=1e-6)


def test_endometrial_quasi_separation_matches_logistf():
    X, y = ENDOMETRIAL[:, :3], ENDOMETRIAL[:, 3].astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mle = LogisticRegression(penalty=None, max_iter=30).fit(X, y)
    with pytest.warns(PerfectSeparationWarning, match="x1"):  # NV
        mle.summary(X, y)
    firth = FirthLogisticRegression().fit(X, y)
    res = firth.summary(X, y)
    assert_allclose(_const_last(res.params), ENDO_COEF, rtol=1e-6)
    assert_allclose(_const_last(res.conf_int()), ENDO_CI, rtol=1e-6)


# ---------------------------------------------------------------- independent numpy implementation
def _design(X):
    return np.column_stack([np.ones(len(X)), X])  # const first, as the results


def _penalised(beta, X1, y, w):
    eta = X1 @ beta
    p = expit(eta)
    info = X1.T @ (X1 * (w * p * (1 - p))[:, None])
    return np.sum(w * (y * eta - np.logaddexp(0, eta))) + 0.5 * np.linalg.slogdet(info)[1]


def _firth_score(beta, X1, y, w):
    """U* = X̃ᵀ(w(y − p) + h(½ − p)) with h the diagonal of W^½ X̃ (X̃ᵀWX̃)⁻¹ X̃ᵀ W^½, explicitly."""
    p = expit(X1 @ beta)
    v = w * p * (1 - p)
    root = X1 * np.sqrt(v)[:, None]
    hat = np.diag(root @ np.linalg.solve(X1.T @ (X1 * v[:, None]), root.T))
    return X1.T @ (w * (y - p) + hat * (0.5 - p))


def _maximise(X1, y, w, fixed=None, start=None):
    """max ℓ* by BFGS with the explicit score; ``fixed=(j, value)`` profiles coefficient j."""
    k = X1.shape[1]
    free = np.ones(k, bool)
    base = np.zeros(k) if start is None else np.array(start, dtype=float)
    if fixed is not None:
        free[fixed[0]] = False
        base[fixed[0]] = fixed[1]

    def full(b):
        beta = base.copy()
        beta[free] = b
        return beta

    res = optimize.minimize(lambda b: -_penalised(full(b), X1, y, w), base[free],
                            jac=lambda b: -_firth_score(full(b), X1, y, w)[free], method="BFGS",
                            options={"gtol": 1e-10, "maxiter": 1000})
    return full(res.x), -res.fun


def test_agrees_with_direct_maximisation_and_profiles(sex2_fit):
    X, y, _, res = sex2_fit
    X1, w = _design(X), np.ones(len(y))
    assert np.abs(_firth_score(res.params, X1, y, w)).max() < 1e-6  # the score equations hold
    beta, top = _maximise(X1, y, w)
    assert_allclose(res.params, beta, rtol=1e-6, atol=1e-8)
    assert_allclose(res.llf, top, rtol=1e-10)
    # penalised likelihood-ratio p-values: profile at 0 (penalty from the full design, as logistf)
    for j in (1, 6):
        _, restricted = _maximise(X1, y, w, fixed=(j, 0.0), start=beta)
        assert_allclose(res.pvalues[j], stats.chi2.sf(2 * (top - restricted), 1), rtol=1e-5)
    # the profile limits are where the PLR statistic reaches the χ² quantile
    lower, upper = res.conf_int()[6]
    for limit in (lower, upper):
        _, restricted = _maximise(X1, y, w, fixed=(6, limit), start=beta)
        assert_allclose(2 * (top - restricted), stats.chi2.ppf(0.95, 1), rtol=1e-6)
    # null model: slopes fixed at 0, intercept free, penalty from the full design (logistf)
    bounds = [(None, None)] + [(0, 0)] * 6
    null = optimize.minimize(lambda b: -_penalised(b, X1, y, w), np.zeros(7), bounds=bounds,
                             method="L-BFGS-B", options={"ftol": 1e-14, "gtol": 1e-10})
    assert_allclose(res.llnull, -null.fun, rtol=1e-8)


def test_wald_option_levels_and_outputs(sex2_fit):
    X, y, firth, res = sex2_fit
    wald = firth.summary(X, y, pl=False)
    assert_allclose(wald.conf_int(), res.params[:, None] + np.outer(res.bse, [-1, 1]) * stats.norm.ppf(0.975))
    assert_allclose(wald.pvalues, 2 * stats.norm.sf(np.abs(res.params / res.bse)))
    narrower = res.conf_int(alpha=0.1)
    assert np.all(narrower[:, 0] > res.conf_int()[:, 0]) and np.all(narrower[:, 1] < res.conf_int()[:, 1])
    text = str(res.summary())
    assert "Firth Logistic Regression Results" in text and "P>chi2" in text
    assert res.to_dict()["method"] == "Firth (penalised ML)"
    me = res.get_margeff()
    assert me.margeff.shape == (6,) and np.all(np.isfinite(me.margeff_se))


def test_complete_separation_gives_finite_estimates():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2))
    y = np.where(X[:, 0] > 0, "yes", "no")
    firth = FirthLogisticRegression().fit(X, y)
    assert firth.converged_ and np.all(np.isfinite(firth.coef_))
    res = firth.summary(X, y)
    assert np.all(np.isfinite(res.conf_int()))
    assert set(firth.predict(X)) <= {"no", "yes"}
    assert_allclose(firth.predict_proba(X).sum(1), 1.0)


def test_rejects_more_than_two_classes():
    with pytest.raises(ValueError, match=r"Only binary classification is supported.*3 classes"):
        FirthLogisticRegression().fit(np.eye(6), [0, 1, 2, 0, 1, 2])


# (50, 3): the Hessian's trace term through the derivatives of I (n ≥ p²/2); (30, 8): through Q = X̃I⁻¹X̃ᵀ
@pytest.mark.parametrize(("n", "d"), [(50, 3), (30, 8)])
def test_score_and_hessian_match_autograd(n, d):
    import torch

    from torchlogit.estimators.firth import FirthProblem

    rng = np.random.default_rng(1)
    X, y, w = rng.normal(size=(n, d)), (rng.uniform(size=n) < 0.4).astype(int), rng.uniform(0.5, 2, n)
    problem = FirthProblem(X, y, w, fit_intercept=True, device=torch.device("cpu"))
    beta = torch.tensor(rng.normal(scale=0.4, size=d + 1), dtype=torch.float64)

    def penalised(b):
        eta = problem.X @ b
        p = torch.sigmoid(eta)
        info = problem.X.T @ (problem.X * (problem.w * p * (1 - p))[:, None])
        loglik = (problem.w * (problem.y * eta - torch.nn.functional.softplus(eta))).sum()
        return loglik + 0.5 * torch.logdet(info)

    point = problem.evaluate(beta)
    assert_allclose(point.pen, float(penalised(beta)), rtol=1e-13)
    assert_allclose(point.score, torch.autograd.functional.jacobian(penalised, beta), atol=1e-12)
    hessian = torch.autograd.functional.hessian(penalised, beta)
    assert_allclose(problem.hessian(beta, point.info), hessian, atol=1e-12)


# ---------------------------------------------------------------- profiles under complete separation
# 49 rows, x1 separates the classes (y = 1 exactly where x1 > -0.5); rounded from a random draw.
SEPARATED_X = np.array([
    1.6, 1.92, -0.02, -0.94, -0.59, -0.09, -1.09, 2.17, 0.25, 1.02, 0.55, 1.1, 0.04, -0.69, 1.32, -0.52,
    -0.87, 1.07, -0.96, -1.09, 1.57, 0.55, -0.44, -0.54, -1.38, 1.14, 0.28, 0.97, 1.26, -0.52, 1.28, 0.42,
    0.56, -1.56, 0.68, -0.29, -0.56, 0.05, -0.48, -0.31, -0.77, -0.65, 0.02, 1.78, -1.55, -2.44, -0.16,
    0.86, -0.41, -2.42, -0.9, -0.9, -1.9, 0.66, 0.29, -1.28, 0.67, -0.58, 1.42, 0.66, 1.83, -0.07, 0.88,
    -0.72, -0.01, 0.61, 0.19, -0.0, 0.33, -0.11, -0.81, 0.23, -0.07, 0.19, -0.24, 0.46, -0.08, -1.91,
    0.63, 0.33, -0.73, 0.96, 0.46, 1.41, 0.75, 0.66, 1.33, -0.13, -1.24, 0.11, 1.3, 0.48, 0.21, -1.03,
    -1.0, -0.16, -0.78, -0.14]).reshape(49, 2)
SEPARATED_Y = np.array([1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1,
                        1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 0])
# firthmodels 0.8.2 (numba backend), FirthLogisticRegression(max_iter=200, gtol=1e-12, xtol=1e-12)
# .conf_int(method="pl", tol=1e-10, max_iter=300): rows x1, x2, (Intercept). Our former search ended
# x1's upper limit at 45.2725 on a lower branch of the constrained maximum.
SEPARATED_CI = [[3.7619068732, 69.2360336619], [-13.3017453003, 3.2576051668], [1.5552906891, 36.7256220957]]


def test_separated_profile_limits_follow_the_highest_branch():
    X, y = SEPARATED_X, SEPARATED_Y
    assert X[y == 1, 0].min() > X[y == 0, 0].max()  # complete separation
    res = FirthLogisticRegression().fit(X, y).summary(X, y)
    assert_allclose(_const_last(res.conf_int()), SEPARATED_CI, rtol=1e-8)
    # independently (BFGS): at the former limit the profile is still well inside, when the constrained
    # maximum is started along the ray β̂·b/β̂₁, and at our limit the statistic is the χ² quantile
    X1, w = _design(X), np.ones(len(y))
    beta, top = _maximise(X1, y, w)
    for b, inside in ((45.2725452552, True), (res.conf_int()[1, 1], False)):
        _, restricted = _maximise(X1, y, w, fixed=(1, b), start=beta * b / beta[1])
        statistic = 2 * (top - restricted)
        if inside:
            assert statistic < stats.chi2.ppf(0.95, 1) - 0.5
        else:
            assert_allclose(statistic, stats.chi2.ppf(0.95, 1), rtol=1e-6)


# firthmodels 0.8.2 (numba), FirthLogisticRegression(max_iter=200, gtol=1e-9, xtol=1e-9).fit(X, y).lrt():
# penalised likelihood-ratio p-values on the endometrial data (NV, PI, EH, (Intercept)); and on sex2 the
# ones it computed (oc, vic, vicl, vis, dia; its LRT fits for age and the intercept stopped at max_iter).
ENDO_PLR_PVALUES = [9.123667547086e-03, 3.874822035664e-01, 2.506867214856e-05, 4.193627885587e-03]
SEX2_PLR_PVALUES = {2: 8.751910586262e-01, 3: 1.678876958716e-06, 4: 1.237804762814e-05,
                    5: 5.449700806153e-02, 6: 4.951873386390e-03}  # positions in our (const-first) table


def test_penalised_lr_pvalues_match_firthmodels(sex2_fit):
    X, y = ENDOMETRIAL[:, :3], ENDOMETRIAL[:, 3].astype(int)
    res = FirthLogisticRegression().fit(X, y).summary(X, y)
    assert_allclose(_const_last(res.pvalues), ENDO_PLR_PVALUES, rtol=1e-9)
    sex2_res = sex2_fit[3]
    for position, pvalue in SEX2_PLR_PVALUES.items():
        assert_allclose(sex2_res.pvalues[position], pvalue, rtol=1e-8)


# ---------------------------------------------------------------- FLIC / FLAC (Puhr et al. 2017)
def _hat_diagonal(beta, X1, w):
    p = expit(X1 @ beta)
    root = X1 * np.sqrt(w * p * (1 - p))[:, None]
    return np.einsum("ij,ji->i", root, np.linalg.solve(root.T @ root, root.T))


def test_flic_is_the_ml_intercept_with_firth_offset(sex2_fit):
    import statsmodels.api as sm

    X, y, firth, _ = sex2_fit
    flic = FirthLogisticRegression(intercept_correction="flic").fit(X, y)
    assert_allclose(flic.coef_, firth.coef_, rtol=1e-12)
    glm = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(),
                 offset=X @ firth.coef_[0]).fit(tol=1e-12)
    assert_allclose(flic.intercept_, glm.params, rtol=1e-8)
    assert_allclose(flic.predict_proba(X)[:, 1].mean(), y.mean(), rtol=1e-10)  # unbiased mean probability
    res = flic.summary(X, y)
    X1 = _design(X)
    p = expit(X1 @ res.params)
    se0 = np.sqrt(np.linalg.inv(X1.T @ (X1 * (p * (1 - p))[:, None]))[0, 0])  # logistf's flic() std err
    assert_allclose(res.bse[0], se0, rtol=1e-8)
    wald = res.params[0] + np.array([-1, 1]) * stats.norm.ppf(0.975) * se0
    assert_allclose(res.conf_int()[0], wald, rtol=1e-8)
    assert_allclose(res.pvalues[0], 2 * stats.norm.sf(abs(res.params[0]) / se0), rtol=1e-8)
    firth_res = sex2_fit[3]
    assert_allclose(res.conf_int()[1:], firth_res.conf_int()[1:], rtol=1e-10)
    assert_allclose(res.bse[1:], firth_res.bse[1:], rtol=1e-10)


def test_flac_is_ml_on_augmented_data():
    import statsmodels.api as sm

    X, y = ENDOMETRIAL[:, :3], ENDOMETRIAL[:, 3].astype(int)
    firth = FirthLogisticRegression().fit(X, y)
    X1, n = _design(X), len(y)
    hat = _hat_diagonal(np.r_[firth.intercept_, firth.coef_[0]], X1, np.ones(n))
    Xa = np.column_stack([np.vstack([X1, X1, X1]), np.r_[np.zeros(n), np.ones(2 * n)]])
    ya, wa = np.r_[y, y, 1 - y], np.r_[np.ones(n), hat / 2, hat / 2]  # as logistf's flac()
    glm = sm.GLM(ya, Xa, family=sm.families.Binomial(), var_weights=wa).fit(tol=1e-13)
    flac = FirthLogisticRegression(intercept_correction="flac").fit(X, y)
    assert_allclose(np.r_[flac.intercept_, flac.coef_[0]], glm.params[:4], rtol=1e-7)
    res = flac.summary(X, y)
    assert_allclose(res.bse, glm.bse[:4], rtol=1e-6)
    # likelihood-ratio test of NV = 0 on the augmented data (ML, no penalty)
    restricted = sm.GLM(ya, np.delete(Xa, 1, axis=1), family=sm.families.Binomial(),
                        var_weights=wa).fit(tol=1e-13)
    assert_allclose(res.pvalues[1], stats.chi2.sf(2 * (glm.llf - restricted.llf), 1), rtol=1e-6)


def test_intercept_correction_is_validated():
    X, y = np.eye(4)[:, :2], [0, 1, 0, 1]
    with pytest.raises(ValueError, match="intercept_correction must be None, 'flic' or 'flac'"):
        FirthLogisticRegression(intercept_correction="FLIC").fit(X, y)
    with pytest.raises(ValueError, match="needs fit_intercept=True"):
        FirthLogisticRegression(intercept_correction="flac", fit_intercept=False).fit(X, y)
