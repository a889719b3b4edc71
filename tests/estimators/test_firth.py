"""Firth's method: published logistf results, score equations, an independent scipy implementation."""

import warnings

import numpy as np
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


def test_score_and_hessian_match_autograd():
    import torch

    from torchlogit.estimators.firth import FirthProblem

    rng = np.random.default_rng(1)
    X, y, w = rng.normal(size=(50, 3)), (rng.uniform(size=50) < 0.4).astype(int), rng.uniform(0.5, 2, 50)
    problem = FirthProblem(X, y, w, fit_intercept=True, device=torch.device("cpu"))
    beta = torch.tensor([0.3, -0.5, 1.0, 0.2], dtype=torch.float64)

    def penalised(b):
        eta = problem.X @ b
        p = torch.sigmoid(eta)
        info = problem.X.T @ (problem.X * (problem.w * p * (1 - p))[:, None])
        loglik = (problem.w * (problem.y * eta - torch.nn.functional.softplus(eta))).sum()
        return loglik + 0.5 * torch.logdet(info)

    value, _, score, info = problem.evaluate(beta)
    assert_allclose(value, float(penalised(beta)), rtol=1e-13)
    assert_allclose(score, torch.autograd.functional.jacobian(penalised, beta), atol=1e-12)
    hessian = torch.autograd.functional.hessian(penalised, beta)
    assert_allclose(problem.hessian(beta, info), hessian, atol=1e-12)
