"""summary(): agreement with statsmodels Logit/MNLogit, covariance types, marginal effects, outputs."""

import json
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression, PerfectSeparationWarning
from torchlogit.inference.results import LogitResults

sm = pytest.importorskip("statsmodels.api")

RTOL = 1e-6  # the bar for everything but the parameters
PARAM_ATOL = 1e-8


def _fit(X, y, sample_weight=None, **kwargs):
    kwargs.setdefault("tol", 1e-10)
    return LogisticRegression(C=np.inf, **kwargs).fit(X, y, sample_weight=sample_weight)


def _sm(model, y, X, cov_type="nonrobust", groups=None):
    kwargs = {"cov_type": cov_type}
    if cov_type == "cluster":
        kwargs["cov_kwds"] = {"groups": groups}
    return model(y, X).fit(disp=0, method="newton", tol=1e-12, maxiter=100, **kwargs)


def _assert_same_stats(res, ref):
    for name in ("llf", "llnull", "llr", "llr_pvalue", "prsquared", "aic", "bic"):
        assert_allclose(getattr(res, name), getattr(ref, name), rtol=RTOL, err_msg=name)
    assert res.nobs == ref.nobs
    assert res.df_model == ref.df_model
    assert res.df_resid == ref.df_resid


@pytest.fixture(scope="module")
def binary():
    X, y, _ = make_classification_data(n=500, d=4, seed=11)
    groups = np.random.default_rng(3).integers(0, 25, size=len(y))
    return X, y, groups, _fit(X, y)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_binary_matches_statsmodels_logit(binary, cov_type):
    X, y, groups, est = binary
    res = est.summary(X, y, cov_type=cov_type, groups=groups)
    ref = _sm(sm.Logit, y, sm.add_constant(X), cov_type, groups)
    assert isinstance(res, LogitResults) and res.exog_names == ["const", "x1", "x2", "x3", "x4"]
    assert_allclose(res.params, ref.params, rtol=0, atol=PARAM_ATOL)
    for name in ("bse", "zvalues", "pvalues"):
        assert_allclose(getattr(res, name), getattr(ref, "tvalues" if name == "zvalues" else name),
                        rtol=RTOL, err_msg=name)
    assert_allclose(res.tvalues, res.zvalues)
    assert_allclose(res.conf_int(), ref.conf_int(), rtol=RTOL)
    assert_allclose(res.conf_int(0.1), ref.conf_int(0.1), rtol=RTOL)
    assert_allclose(res.cov_params(), ref.cov_params(), rtol=RTOL, atol=1e-14)
    _assert_same_stats(res, ref)
    me, me_ref = res.get_margeff(), ref.get_margeff()
    assert_allclose(me.margeff, me_ref.margeff, rtol=RTOL)
    assert_allclose(me.margeff_se, me_ref.margeff_se, rtol=RTOL)
    assert_allclose(me.pvalues, me_ref.pvalues, rtol=RTOL)
    assert_allclose(me.conf_int(), me_ref.conf_int(), rtol=RTOL)


def test_hc1_is_hc0_with_the_documented_small_sample_factor(binary):
    # statsmodels' discrete models apply no correction for cov_type='HC1' (it equals HC0 there);
    # we apply MacKinnon & White's nobs / (nobs - k), documented in torchlogit.inference.results.
    X, y, _, est = binary
    hc0 = est.summary(X, y, cov_type="robust").cov_params()
    hc1 = est.summary(X, y, cov_type="HC1").cov_params()
    ref = _sm(sm.Logit, y, sm.add_constant(X), "HC0").cov_params()
    n, k = X.shape[0], X.shape[1] + 1
    assert_allclose(hc0, ref, rtol=RTOL, atol=1e-14)
    assert_allclose(hc1, ref * n / (n - k), rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_marginal_effects_at_the_mean_match_statsmodels(binary, multinomial, n_classes, cov_type):
    X, y, _, est = binary if n_classes == 2 else multinomial
    model = sm.Logit if n_classes == 2 else sm.MNLogit
    me = est.summary(X, y, cov_type=cov_type).get_margeff(at="mean")
    ref = _sm(model, y, sm.add_constant(X), cov_type).get_margeff(at="mean")
    assert_allclose(me.margeff, ref.margeff, rtol=RTOL, atol=1e-12)
    assert_allclose(me.margeff_se, ref.margeff_se, rtol=RTOL)
    assert_allclose(me.pvalues, ref.pvalues, rtol=RTOL, atol=1e-300)
    assert me.to_dict()["at"] == "mean" and re.search(r"At:\s+mean", str(me))
    with pytest.raises(ValueError, match="at must be one of"):
        est.summary(X, y).get_margeff(at="all")  # statsmodels' 'all' gives no standard errors


@pytest.fixture(scope="module")
def multinomial():
    X, y, _ = make_classification_data(n=600, d=3, n_classes=3, seed=5)
    groups = np.random.default_rng(4).integers(0, 30, size=len(y))
    return X, y, groups, _fit(X, y)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_multinomial_matches_statsmodels_mnlogit(multinomial, cov_type):
    X, y, groups, est = multinomial
    res = est.summary(X, y, cov_type=cov_type, groups=groups)
    ref = _sm(sm.MNLogit, y, sm.add_constant(X), cov_type, groups)
    # MNLogit: first class as reference, params (p, K-1); ours are converted from K centred rows
    assert res.params.shape == ref.params.shape == (4, 2)
    assert_allclose(res.params, ref.params, rtol=0, atol=PARAM_ATOL)
    assert_allclose(res.params[1:, 0], est.coef_[1] - est.coef_[0], atol=1e-12)
    for name in ("bse", "pvalues"):
        assert_allclose(getattr(res, name), getattr(ref, name), rtol=RTOL, err_msg=name)
    assert_allclose(res.zvalues, ref.tvalues, rtol=RTOL)
    assert_allclose(res.conf_int(), ref.conf_int(), rtol=RTOL)  # (K-1, p, 2)
    assert_allclose(res.cov_params(), ref.cov_params(), rtol=RTOL, atol=1e-14)
    _assert_same_stats(res, ref)
    me, me_ref = res.get_margeff(), ref.get_margeff()
    assert me.margeff.shape == (3, 3)
    assert_allclose(me.margeff, me_ref.margeff, rtol=RTOL, atol=1e-12)
    assert_allclose(me.margeff_se, me_ref.margeff_se, rtol=RTOL)
    assert_allclose(me.conf_int(), me_ref.conf_int(), rtol=RTOL, atol=1e-12)  # (d, 2, K)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_chunked_pass_equals_one_block(n_classes):
    from torchlogit.inference.sums import SumsLayout, inference_sums

    X, y, sw = make_classification_data(n=300, d=3, n_classes=n_classes, seed=9, weights=True)
    coef = np.random.default_rng(1).normal(size=(1 if n_classes == 2 else n_classes, 4))
    groups = np.arange(300) % 7
    for meat in (None, "hc", "cluster"):
        layout = SumsLayout(n_classes, fit_intercept=True, device=torch.device("cpu"), meat=meat)
        blocks = SumsLayout(n_classes, fit_intercept=True, device=torch.device("cpu"), meat=meat,
                            block_rows=64)
        X32 = X.astype(np.float32)  # converted to float64 chunk by chunk
        whole = inference_sums(X32.astype(np.float64), y, sw, coef, layout, groups)
        parts = inference_sums(X32, y, sw, coef, blocks, groups)
        assert_allclose(parts.information, whole.information, rtol=1e-12)
        assert_allclose(parts.ame_jacobian, whole.ame_jacobian, rtol=1e-12, atol=1e-15)
        assert_allclose(parts.loglik, whole.loglik, rtol=1e-12)
        if meat:
            assert_allclose(parts.meat, whole.meat, rtol=1e-12)


def test_frequency_weights_equal_repeated_rows():
    X, y, _ = make_classification_data(n=200, d=3, n_classes=3, seed=8)
    counts = np.random.default_rng(0).integers(1, 4, size=len(y))
    groups = np.arange(len(y)) % 17
    weighted = _fit(X, y, sample_weight=counts)
    Xr, yr, gr = np.repeat(X, counts, 0), np.repeat(y, counts), np.repeat(groups, counts)
    repeated = _fit(Xr, yr)
    for cov_type in ("nonrobust", "HC1", "cluster"):
        a = weighted.summary(X, y, counts, cov_type=cov_type, groups=groups)
        b = repeated.summary(Xr, yr, cov_type=cov_type, groups=gr)
        assert a.nobs == b.nobs == counts.sum()
        assert_allclose(a.params, b.params, atol=1e-8)
        assert_allclose(a.bse, b.bse, rtol=1e-6)
        assert_allclose([a.llf, a.llnull, a.aic, a.bic], [b.llf, b.llnull, b.aic, b.bic], rtol=1e-9)
        assert_allclose(a.get_margeff().margeff_se, b.get_margeff().margeff_se, rtol=1e-6)


def test_without_intercept_follows_statsmodels_conventions(binary):
    X, y, _, _ = binary
    res = _fit(X, y, fit_intercept=False).summary(X, y)
    ref = _sm(sm.Logit, y, X)
    assert res.exog_names == ["x1", "x2", "x3", "x4"]
    assert_allclose(res.params, ref.params, atol=PARAM_ATOL)
    assert_allclose(res.bse, ref.bse, rtol=RTOL)
    _assert_same_stats(res, ref)  # llnull: intercept-only model; df_model = rank - 1


def test_float32_data_are_accumulated_in_float64(binary):
    X, y, _, _ = binary
    X32 = X.astype(np.float32)
    est = _fit(X32, y, dtype="float32", tol=1e-6)
    a = est.summary(X32, y, cov_type="HC0")
    b = est.summary(X32.astype(np.float64), y, cov_type="HC0")  # same values, float64 storage
    assert a.bse.dtype == np.float64
    assert_allclose(a.bse, b.bse, rtol=1e-12)
    assert_allclose(a.llf, b.llf, rtol=1e-13)
    ref = _sm(sm.Logit, y, sm.add_constant(X32.astype(np.float64)), "HC0")
    assert_allclose(a.bse, ref.bse, rtol=1e-4)  # float32 coefficients, float64 sums


def test_sparse_and_dataframe_inputs(binary):
    pd = pytest.importorskip("pandas")
    X, y, _, est = binary
    dense = est.summary(X, y, cov_type="HC0")
    assert_allclose(est.summary(sp.csr_matrix(X), y, cov_type="HC0").bse, dense.bse, rtol=1e-12)
    frame = pd.DataFrame(X, columns=["age", "dose", "bmi", "sex"])
    target = pd.Series(y, name="outcome")
    with warnings.catch_warnings():  # the estimator's own separation check (fit), not summary()
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        fitted = _fit(frame, target)
    res = fitted.summary(frame, target, cov_type="HC0")
    assert res.exog_names == ["const", "age", "dose", "bmi", "sex"] and res.dep_variable == "outcome"
    assert_allclose(res.bse, dense.bse, rtol=1e-7)
    from_tensor = est.summary(torch.tensor(X), torch.tensor(y), cov_type="HC0")
    assert_allclose(from_tensor.bse, dense.bse, rtol=1e-12)


def _penalised_loglik(theta, X, y, C, n_classes, factor):
    """Log-likelihood − Σ_j factor_j ‖W_j‖²/(2C) over the reported parameters (const first)."""
    Xt = torch.cat([torch.ones(len(X), 1, dtype=torch.float64), torch.as_tensor(X)], 1)
    yt = torch.as_tensor(y)
    if n_classes == 2:
        eta = Xt @ theta
        loglik = (yt * eta - torch.nn.functional.softplus(eta)).sum()
        return loglik - (factor * theta[1:] ** 2).sum() / (2 * C)
    B = theta.reshape(n_classes - 1, -1)  # equation by equation, as cov_params()
    W = torch.cat([torch.zeros(1, B.shape[1], dtype=B.dtype), B])
    W = W - W.mean(0)  # the estimator's centred rows
    logp = torch.log_softmax(Xt @ W.T, dim=1)
    return logp[torch.arange(len(y)), yt].sum() - (factor * W[:, 1:] ** 2).sum() / (2 * C)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_penalised_summary_refuses_unless_explicitly_allowed(n_classes):
    X, y, _ = make_classification_data(n=300, d=3, n_classes=n_classes, seed=2)
    factor = np.array([1.0, 0.0, 2.5])  # per-feature strengths (penalty_factor), one unpenalised
    est = LogisticRegression(C=0.5, tol=1e-10, penalty_factor=factor).fit(X, y)
    with pytest.raises(ValueError, match="penalty"):
        est.summary(X, y)
    res = est.summary(X, y, allow_penalized=True)
    assert res.method == "L2-penalised ML" and any("penalised" in note for note in res.notes)
    theta = torch.as_tensor(res.params.ravel("F"))
    hess = torch.autograd.functional.hessian(
        lambda t: _penalised_loglik(t, X, y, 0.5, n_classes, torch.as_tensor(factor)), theta)
    assert_allclose(res.cov_params(), np.linalg.inv(-hess.numpy()), rtol=1e-8, atol=1e-12)
    lasso = LogisticRegression(l1_ratio=1, C=0.5).fit(X, y)
    with pytest.raises(ValueError, match="L1"):
        lasso.summary(X, y, allow_penalized=True)


def test_separation_is_detected_and_named():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 1] > 0).astype(int)  # x2 separates the classes completely
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _fit(X, y, max_iter=50)
    with pytest.warns(PerfectSeparationWarning, match="x2"):
        res = est.summary(X, y)
    assert res.separation["features"] == ["x2"]
    assert "Separation" in str(res.summary()) and "firth" in res.notes[-1].lower()


@pytest.mark.parametrize("columns", [None, ["age", "dose", "bmi"]])
def test_fit_warning_and_summary_name_the_same_features(columns):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 1] > 0).astype(int)  # the second column separates the classes completely
    if columns is not None:
        X = pytest.importorskip("pandas").DataFrame(X, columns=columns)
    expected = "x2" if columns is None else "dose"  # 1-based x1..xd, else the DataFrame's names
    with pytest.warns(PerfectSeparationWarning) as fitted:
        est = _fit(X, y, max_iter=50)
    with pytest.warns(PerfectSeparationWarning) as summarised:
        res = est.summary(X, y)
    assert res.separation["features"] == [expected]
    fit_messages = [str(w.message) for w in fitted if w.category is PerfectSeparationWarning]
    summary_messages = [str(w.message) for w in summarised if w.category is PerfectSeparationWarning]
    assert [m for m in fit_messages if f"linear combination of {expected}." in m] == fit_messages != []
    assert [m for m in summary_messages if f"separated by {expected};" in m] == summary_messages != []


# scikit-learn 1.9's LogisticRegressionCV warns unless these are explicit (their defaults change in 1.10/1.11)
CV_1_9 = {"l1_ratios": (0,), "scoring": "neg_log_loss", "use_legacy_attributes": False}


@pytest.mark.parametrize("n_classes", [2, 3])
def test_cv_summary_equals_summary_refitted_at_the_cv_choice(n_classes):
    from torchlogit import LogisticRegressionCV

    X, y, _ = make_classification_data(n=300, d=3, n_classes=n_classes, seed=5)
    cv = LogisticRegressionCV(Cs=[0.003, 0.03, 0.3, 3.0], tol=1e-10, **CV_1_9).fit(X, y)
    with pytest.raises(ValueError, match=rf"an L2 penalty \(C={cv.C_!r}\)"):
        cv.summary(X, y)
    res = cv.summary(X, y, allow_penalized=True)
    ref = LogisticRegression(C=cv.C_, tol=1e-10).fit(X, y).summary(X, y, allow_penalized=True)
    assert res.method == ref.method == "L2-penalised ML" and res.notes == ref.notes
    assert f"C={cv.C_:g}" in " ".join(res.notes)
    for name in ("params", "bse", "zvalues", "pvalues", "cov_params", "conf_int"):
        value, expected = getattr(res, name), getattr(ref, name)
        value, expected = (value(), expected()) if callable(value) else (value, expected)
        assert_allclose(value, expected, rtol=1e-7, atol=1e-12, err_msg=name)
    _assert_same_stats(res, ref)
    assert_allclose(res.get_margeff().margeff, ref.get_margeff().margeff, rtol=1e-7, atol=1e-12)


def test_cv_summary_refuses_l1_and_unrefitted_models():
    from torchlogit import LogisticRegressionCV

    X, y, _ = make_classification_data(n=200, d=3, seed=6)
    lasso = LogisticRegressionCV(Cs=3, solver="auto", **{**CV_1_9, "l1_ratios": (1,)}).fit(X, y)
    with pytest.raises(ValueError, match="L1 or elastic-net"):
        lasso.summary(X, y, allow_penalized=True)
    averaged = LogisticRegressionCV(Cs=[0.1, 1.0], refit=False, **CV_1_9).fit(X, y)
    with pytest.raises(ValueError, match="refit=True"):
        averaged.summary(X, y, allow_penalized=True)


def test_outputs_text_rich_frame_dict_json(binary, multinomial, tmp_path):
    pd = pytest.importorskip("pandas")
    from rich.console import Console

    X, y, groups, est = binary
    res = est.summary(X, y, cov_type="cluster", groups=groups, alpha=0.1)
    text = str(res.summary())
    lines = text.splitlines()
    assert "Logit Regression Results" in lines[0] and all(len(line) <= 78 for line in lines[:-1])
    assert "[0.05" in text and "0.95]" in text and "CRV1" in text
    frame = res.to_frame()
    assert list(frame.columns) == ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
    assert_allclose(frame["ci_lower"], res.conf_int()[:, 0])
    data = json.loads(res.to_json(tmp_path / "summary.json"))
    assert json.loads((tmp_path / "summary.json").read_text()) == data
    assert data["cov_type"] == "cluster" and data["n_groups"] == 25 and len(data["coefficients"]) == 5
    assert data["coefficients"][1]["term"] == "x1" and len(data["marginal_effects"]) == 4
    console = Console(record=True, width=110)
    console.print(res)
    console.print(res.get_margeff())
    rendered = console.export_text()
    assert "Log-Likelihood" in rendered and "dy/dx" in rendered

    Xm, ym, _, est_m = multinomial
    res_m = est_m.summary(Xm, ym)
    text = str(res_m.summary())
    assert "MNLogit Regression Results" in text and "y=1" in text and "y=2" in text
    assert res_m.to_frame().index.names == ["class", "term"]
    assert isinstance(res_m.get_margeff().summary_frame(), pd.DataFrame)
    assert "y=0" in str(res_m.get_margeff().summary())


def test_invalid_arguments(binary):
    X, y, _, est = binary
    with pytest.raises(ValueError, match="cov_type must be one of"):
        est.summary(X, y, cov_type="HC4")
    with pytest.raises(ValueError, match="groups"):
        est.summary(X, y, cov_type="cluster")
    with pytest.raises(ValueError, match="alpha"):
        est.summary(X, y, alpha=1.5)
    with pytest.raises(ValueError, match="labels"):
        est.summary(X, np.where(y == 1, 7, 0))
    with pytest.raises(ValueError, match="class_weight"):
        LogisticRegression(C=np.inf, class_weight="balanced").fit(X, y).summary(X, y)
    with pytest.raises(ValueError, match="method must be one of"):
        est.summary(X, y).get_margeff(method="elasticity")
    assert_array_equal(est.summary(X, y).classes, [0, 1])
