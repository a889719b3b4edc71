"""Linear hypotheses (wald_test, t_test), nested likelihood-ratio tests and get_prediction.

Oracles: statsmodels' Logit/MNLogit ``wald_test``/``t_test``/``get_prediction`` on the same data, and
R's ``anova(m0, m1, test="LRT")`` and ``predict(..., se.fit=TRUE)``, whose numbers are printed by
tests/reference/hyp_anova.R (it also writes tests/reference/hyp_data.csv).
"""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression
from torchlogit.inference import lr_test

sm = pytest.importorskip("statsmodels.api")
pd = pytest.importorskip("pandas")

RTOL = 1e-6  # the bar
DATA = Path(__file__).parent.parent / "reference" / "hyp_data.csv"

# printed by tests/reference/hyp_anova.R (R 4.2.2)
ANOVA_DEVIANCE_DF_P = [23.4193994272919, 3, 3.30179665794281e-05]
ANOVA_X1X3_DEVIANCE_DF_P = [19.5152901529127, 2, 5.78506958163635e-05]
LINK_FIT = [-1.54642747338005, 1.21353034047572, -0.0471859433492631, 0.514840740556916]
LINK_SE = [0.366855634428594, 0.413664304556983, 0.256695217445803, 0.566571133612864]
RESPONSE_CI_LOWER = [0.094024974708886, 0.599351367639272, 0.365794966195209, 0.355346801774852]
RESPONSE_CI_UPPER = [0.304194336054614, 0.883324646974007, 0.612047607661807, 0.835524734814737]
RESPONSE_FIT = [0.175602851076042, 0.770923005964914, 0.488205702428133, 0.625940569672148]
RESPONSE_SE = [0.0531084024485767, 0.0730534160247573, 0.0641380966563769, 0.132656383304941]
NEWDATA = {"x1": [-1.5, 0, 0.7, 2.2], "x2": [0.3, -0.8, 0, 0.95], "x3": [0, 1.2, -0.4, 2], "x4": [1, 0, 1, 0]}
FEATURES = ["x1", "x2", "x3", "x4"]


def _summary(X, y, **kwargs):
    fit_intercept = kwargs.pop("fit_intercept", True)
    est = LogisticRegression(C=np.inf, tol=1e-10, fit_intercept=fit_intercept).fit(X, y)
    return est.summary(X, y, **kwargs)


def _sm(model, y, X, **kwargs):
    return model(y, X).fit(disp=0, method="newton", tol=1e-12, maxiter=100, **kwargs)


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def binary(data):
    X, y = data[FEATURES], data["y"]
    return X, y, _summary(X, y), _sm(sm.Logit, y, sm.add_constant(X))


# ---------------------------------------------------------------------- Wald and z tests
HYPOTHESES = ["x1 = x2", "x1 = 0, x2 = 0", "2*x1 + x2 = 1", "(x1 + x2)/2 = x3 - 0.1", "x4",
              "const = -0.5, x3 = 0.2, x1 - x2 = 1.5"]


@pytest.mark.parametrize("hypothesis", HYPOTHESES)
def test_wald_and_t_tests_match_statsmodels(binary, hypothesis):
    _, _, res, ref = binary
    a, b = res.wald_test(hypothesis), ref.wald_test(hypothesis, scalar=True)
    assert isinstance(a.statistic, float)
    assert_allclose([a.statistic, a.pvalue], [b.statistic, b.pvalue], rtol=RTOL)
    assert a.df_denom == b.df_denom and a.distribution == "chi2"
    t, u = res.t_test(hypothesis), ref.t_test(hypothesis)
    assert_allclose(t.effect, np.ravel(u.effect), rtol=RTOL)
    assert_allclose(t.sd, np.ravel(u.sd), rtol=RTOL)
    assert_allclose(t.statistic, np.ravel(u.statistic), rtol=RTOL)
    assert_allclose(t.pvalue, np.ravel(u.pvalue), rtol=RTOL)
    assert_allclose(t.conf_int(0.1), u.conf_int(0.1), rtol=RTOL)
    frame, expected = t.summary_frame(), u.summary_frame()
    assert list(frame.columns) == list(expected.columns) and list(frame.index) == list(expected.index)
    assert_allclose(frame.to_numpy(), expected.to_numpy(), rtol=RTOL)


def test_the_summary_table_is_statsmodels_layout(binary):
    _, _, res, ref = binary
    ours = res.t_test("x1 = x2, x3 = 0").summary().splitlines()
    theirs = str(ref.t_test("x1 = x2, x3 = 0").summary()).splitlines()
    assert ours == theirs
    assert str(res.wald_test("x1 = x2")).startswith("<Wald test (chi2): statistic=")


def test_matrix_restrictions_and_robust_covariance_match_statsmodels(binary):
    X, y, _, _ = binary
    res = _summary(X, y, cov_type="HC0")
    ref = _sm(sm.Logit, y, sm.add_constant(X), cov_type="HC0")
    R = np.array([[0, 1, -1, 0, 0], [0, 0, 0, 1, 1.0]])
    q = np.array([0.5, 0.0])
    a, b = res.wald_test(R, q), ref.wald_test((R, q), scalar=True)
    assert_allclose([a.statistic, a.pvalue], [b.statistic, b.pvalue], rtol=RTOL)
    assert_allclose(res.wald_test((R, q)).statistic, b.statistic, rtol=RTOL)
    assert_allclose(res.t_test(R[0]).statistic, np.ravel(ref.t_test(R[0]).statistic), rtol=RTOL)
    assert res.wald_test(R, q, scalar=False).statistic.shape == (1, 1)
    listed, joined = res.wald_test(["x1 = 0", "x2 = 0"]), ref.wald_test("x1 = 0, x2 = 0", scalar=True)
    assert_allclose(listed.statistic, joined.statistic, rtol=RTOL)


def test_names_with_spaces_and_prefixes_are_read_whole(binary):
    X, y, _, ref = binary
    named = X.rename(columns={"x1": "body mass", "x2": "x1"})  # 'x1' is now the old x2
    res = _summary(named, y)
    R = np.array([[0, 1, -2, 0, 0.0]])  # body mass − 2·x2(old) = 0, in statsmodels' original names
    a, b = res.wald_test("body mass = 2*x1"), ref.wald_test(R, scalar=True)
    assert_allclose(a.statistic, b.statistic, rtol=RTOL)
    with pytest.raises(ValueError, match="unknown parameter name 'body'"):
        res.wald_test("body = 0")


def test_multinomial_names_follow_statsmodels_mnlogit():
    X, y, _ = make_classification_data(n=400, d=3, n_classes=3, seed=5)
    res = _summary(X, y)
    ref = _sm(sm.MNLogit, y, sm.add_constant(X))
    for hypothesis in ["y1_x1 = y2_x1", "y1_x1 = 0, y2_x2 = 0.5, y2_const = y1_const"]:
        a, b = res.wald_test(hypothesis), ref.wald_test(hypothesis, scalar=True)
        assert_allclose([a.statistic, a.pvalue], [b.statistic, b.pvalue], rtol=RTOL)
        assert_allclose(res.t_test(hypothesis).sd, np.ravel(ref.t_test(hypothesis).sd), rtol=RTOL)
    with pytest.raises(ValueError, match="'x1'"):  # plain names are ambiguous across equations
        res.wald_test("x1 = 0")


def test_without_intercept_names_only_the_features(binary):
    X, y, _, _ = binary
    res, ref = _summary(X, y, fit_intercept=False), _sm(sm.Logit, y, X)
    a, b = res.wald_test("x1 = x2, x3 = 0"), ref.wald_test("x1 = x2, x3 = 0", scalar=True)
    assert_allclose(a.statistic, b.statistic, rtol=RTOL)
    with pytest.raises(ValueError, match="'const'"):
        res.wald_test("const = 0")


@pytest.mark.parametrize(("restriction", "message"), [
    (np.ones((2, 4)), r"shape \(2, 4\); expected \(m, 5\)"),
    ("x1 = x9", "unknown parameter name 'x9'"),
    ("x1 = x2 = x3", "one '=' at most"),
    ("x1 * x2 = 0", "not linear"),
    ("x1 / x2 = 0", "division by a parameter"),
    ("2 = 1", "involves no parameter"),
    ("x1 = 0, x1 = 0", "linearly dependent"),
    ("x1 +", "ends early"),
    ("x1x2 = 0", "unknown parameter name 'x1x2'"),
])
def test_bad_restrictions_are_value_errors_naming_the_problem(binary, restriction, message):
    _, _, res, _ = binary
    with pytest.raises(ValueError, match=message):
        res.wald_test(restriction)


def test_q_of_the_wrong_length_and_q_with_text_are_refused(binary):
    _, _, res, _ = binary
    with pytest.raises(ValueError, match="q has 3 values for 2 restrictions"):
        res.wald_test(np.eye(5)[:2], q=[1, 2, 3])
    with pytest.raises(ValueError, match="q must be omitted"):
        res.t_test("x1 = 0", q=1)
    with pytest.raises(ValueError, match="no confidence interval"):
        res.wald_test("x1 = 0").conf_int()


# ---------------------------------------------------------------------- likelihood-ratio tests
def test_lr_test_matches_r_anova(data, binary):
    _, y, full, _ = binary
    restricted = _summary(data[["x1"]], y)
    statistic, pvalue, df = lr_test(restricted, full)  # unpacks like statsmodels' tuple
    assert_allclose([statistic, df, pvalue], ANOVA_DEVIANCE_DF_P, rtol=RTOL)
    assert full.compare_lr_test(restricted) == lr_test(restricted, full)
    other = lr_test(_summary(data[["x1", "x3"]], y), full)
    assert_allclose([other.statistic, other.df_diff, other.pvalue], ANOVA_X1X3_DEVIANCE_DF_P, rtol=RTOL)


def test_lr_test_refuses_different_rows_and_non_nested_models(data, binary):
    _, y, full, _ = binary
    with pytest.raises(ValueError, match="different rows: nobs 150"):
        lr_test(_summary(data[["x1"]][:150], y[:150]), full)
    shuffled = y.sample(frac=1.0, random_state=0).reset_index(drop=True)
    flipped = shuffled.copy()
    flipped[:20] = 1 - flipped[:20]  # same rows count, other labels
    with pytest.raises(ValueError, match="intercept-only log-likelihoods"):
        lr_test(_summary(data[["x1"]], flipped), full)
    with pytest.raises(ValueError, match=r"not nested.*\['z'\]"):
        lr_test(_summary(data[["x1"]].rename(columns={"x1": "z"}), y), full)
    with pytest.raises(ValueError, match="nothing to test"):
        lr_test(full, full)
    penalised = LogisticRegression(C=1.0).fit(data[["x1"]], y).summary(data[["x1"]], y, allow_penalized=True)
    with pytest.raises(ValueError, match="maximum-likelihood fits; the restricted model is 'L2-penalised"):
        lr_test(penalised, full)
    X3, y3, _ = make_classification_data(n=200, d=1, n_classes=3, seed=1)
    with pytest.raises(ValueError, match="differ in their classes"):
        lr_test(_summary(X3, y3), full)


# ---------------------------------------------------------------------- predictions
def test_get_prediction_matches_r_predict(binary):
    _, _, res, _ = binary
    newdata = pd.DataFrame(NEWDATA)
    pred = res.get_prediction(newdata)
    assert_allclose(pred.predicted_mean, RESPONSE_FIT, rtol=RTOL)
    assert_allclose(pred.se_mean, RESPONSE_SE, rtol=RTOL)
    assert_allclose(pred.linpred.predicted_mean, LINK_FIT, rtol=RTOL)
    assert_allclose(pred.linpred.se_mean, LINK_SE, rtol=RTOL)
    assert_allclose(pred.conf_int(), np.column_stack([RESPONSE_CI_LOWER, RESPONSE_CI_UPPER]), rtol=RTOL)
    frame = pred.summary_frame()
    assert list(frame.columns) == ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper"]
    assert_allclose(frame["mean_ci_upper"], RESPONSE_CI_UPPER, rtol=RTOL)
    linear = res.get_prediction(newdata, which="linear").summary_frame()
    assert_allclose(linear[["mean", "mean_se"]].to_numpy(), np.column_stack([LINK_FIT, LINK_SE]), rtol=RTOL)


def test_get_prediction_inputs_columns_by_name_arrays_and_sparse(binary):
    _, _, res, _ = binary
    newdata = pd.DataFrame(NEWDATA)
    shuffled = newdata[["x4", "x2", "x1", "x3"]].assign(extra=1.0).set_axis(["a", "b", "c", "d"], axis=0)
    by_name = res.get_prediction(shuffled).summary_frame()
    assert list(by_name.index) == ["a", "b", "c", "d"]
    assert_allclose(by_name["mean"], RESPONSE_FIT, rtol=RTOL)
    for X_new in (newdata.to_numpy(), sp.csr_matrix(newdata.to_numpy())):
        assert_allclose(res.get_prediction(X_new).se_mean, RESPONSE_SE, rtol=RTOL)
    assert_allclose(res.get_prediction(newdata.to_numpy()[1]).predicted_mean, RESPONSE_FIT[1:2], rtol=RTOL)


def test_get_prediction_matches_statsmodels_at_other_levels(binary):
    X, y, res, ref = binary
    ours = res.get_prediction(X[:25])
    theirs = ref.get_prediction(sm.add_constant(X)[:25])
    assert_allclose(ours.se_mean, theirs.se, rtol=RTOL)
    assert_allclose(ours.conf_int(alpha=0.1), theirs.conf_int(alpha=0.1), rtol=RTOL)
    lin, lin_ref = res.get_prediction(X[:25], which="linear"), ref.get_prediction(sm.add_constant(X)[:25],
                                                                                   which="linear")
    assert_allclose(lin.conf_int(alpha=0.2), lin_ref.conf_int(alpha=0.2), rtol=RTOL)
    no_const = _summary(X, y, fit_intercept=False)
    theirs = _sm(sm.Logit, y, X).get_prediction(X[:25])
    assert_allclose(no_const.get_prediction(X[:25]).se_mean, theirs.se, rtol=RTOL)


def test_get_prediction_without_intercept_keeps_a_feature_named_const(binary):
    X, y, _, _ = binary
    X = np.asarray(X)
    res = LogisticRegression(C=np.inf, tol=1e-10, fit_intercept=False).fit(X, y).summary(
        X, y, xname=["const", *[f"z{j}" for j in range(1, X.shape[1])]])
    theirs = _sm(sm.Logit, y, X).get_prediction(X[:10])
    assert res.k_constant == 0
    assert_allclose(res.get_prediction(X[:10]).predicted_mean, theirs.predicted, rtol=RTOL)


def test_get_prediction_bad_inputs(binary):
    _, _, res, _ = binary
    newdata = pd.DataFrame(NEWDATA)
    with pytest.raises(ValueError, match=r"lacks the model's feature column\(s\) \['x3'\]"):
        res.get_prediction(newdata.drop(columns="x3"))
    with pytest.raises(ValueError, match="has 3 columns; the model has 4 features"):
        res.get_prediction(newdata.to_numpy()[:, :3])
    with pytest.raises(ValueError, match="which must be 'mean' or 'linear'"):
        res.get_prediction(newdata, which="response")
    with pytest.raises(ValueError, match="NaN"):
        res.get_prediction(newdata.assign(x1=np.nan))
    X3, y3, _ = make_classification_data(n=200, d=2, n_classes=3, seed=2)
    with pytest.raises(ValueError, match="binomial models only"):
        _summary(X3, y3).get_prediction(X3)
