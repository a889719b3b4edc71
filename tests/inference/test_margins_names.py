"""get_margeff's options against statsmodels, and results named after the features (issue 17/18)."""

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from torchlogit import LogisticRegression

sm = pytest.importorskip("statsmodels.api")
pd = pytest.importorskip("pandas")

DATA = Path(__file__).resolve().parents[1] / "reference" / "inf_data.csv"  # from inf_sandwich.R
RTOL = 1e-6


@pytest.fixture(scope="module")
def frame():
    data = pd.read_csv(DATA)
    return data[["x1", "x2", "d", "cnt"]], data["y"], data["y3"]


def _pair(frame, n_classes):
    X, y, y3 = frame
    target = y if n_classes == 2 else y3
    est = LogisticRegression(C=np.inf, tol=1e-12).fit(X, target)
    model = sm.Logit if n_classes == 2 else sm.MNLogit
    ref = model(target, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
    return est.summary(X, target), ref


CASES = [
    {"at": "overall", "method": "eyex"}, {"at": "overall", "method": "dyex"},
    {"at": "overall", "method": "eydx"}, {"at": "median"}, {"at": "zero", "method": "eydx"},
    {"at": "overall", "dummy": True}, {"at": "mean", "dummy": True, "method": "eydx"},
    {"at": "overall", "count": True}, {"at": "mean", "count": True, "dummy": True},
    {"at": "overall", "atexog": {1: 0.5}}, {"at": "mean", "atexog": {2: 1.0, 4: 2.0}},
]


@pytest.mark.parametrize("options", CASES, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_binomial_margeff_options_match_statsmodels(frame, options):
    res, ref = _pair(frame, 2)
    me, me_ref = res.get_margeff(**options), ref.get_margeff(**options)
    assert_allclose(me.margeff, me_ref.margeff, rtol=RTOL, atol=1e-12)
    assert_allclose(me.margeff_se, me_ref.margeff_se, rtol=RTOL, atol=1e-12)
    assert_allclose(me.conf_int(), me_ref.conf_int(), rtol=RTOL, atol=1e-12)
    assert me.margeff_options == {"at": options["at"], "method": options.get("method", "dydx")}


# statsmodels 0.15's MNLogit fails (a broadcasting error) for eyex/dyex/eydx, dummy and count;
# those are checked against the probabilities computed here by hand instead
@pytest.mark.parametrize("options", [{"at": "median"}, {"at": "zero"}, {"at": "overall", "atexog": {3: 0.0}},
                                     {"at": "mean", "atexog": {1: 1.0}}],
                         ids=["median", "zero", "atexog", "atexog-mean"])
def test_multinomial_margeff_options_match_statsmodels(frame, options):
    res, ref = _pair(frame, 3)
    me, me_ref = res.get_margeff(**options), ref.get_margeff(**options)
    assert me.margeff.shape == me_ref.margeff.shape == (4, 3)
    assert_allclose(me.margeff, me_ref.margeff, rtol=RTOL, atol=1e-12)
    assert_allclose(me.margeff_se, me_ref.margeff_se, rtol=RTOL, atol=1e-12)


def _softmax_proba(params, exog):
    scores = np.column_stack([np.zeros(len(exog)), exog @ params])
    scores = np.exp(scores - scores.max(1, keepdims=True))
    return scores / scores.sum(1, keepdims=True)


def test_multinomial_discrete_changes_and_elasticities_by_hand(frame):
    X, _, _ = frame
    res, ref = _pair(frame, 3)
    exog = sm.add_constant(X).to_numpy()
    params = ref.params.to_numpy()
    on, off = exog.copy(), exog.copy()
    on[:, 3], off[:, 3] = 1.0, 0.0  # the 0/1 column d
    dummy = res.get_margeff(dummy=True).margeff
    assert_allclose(dummy[2], (_softmax_proba(params, on) - _softmax_proba(params, off)).mean(0), rtol=1e-7)
    up, down = exog.copy(), exog.copy()
    up[:, 4] += 1.0
    down[:, 4] -= 1.0  # the count column cnt: statsmodels' centred difference
    count = res.get_margeff(count=True).margeff
    assert_allclose(count[3], ((_softmax_proba(params, up) - _softmax_proba(params, down)) / 2).mean(0),
                    rtol=1e-7)
    step = 1e-6  # eyex = d log P / d log x, averaged; central differences in x1
    hi, lo = exog.copy(), exog.copy()
    hi[:, 1] += step
    lo[:, 1] -= step
    slope = (np.log(_softmax_proba(params, hi)) - np.log(_softmax_proba(params, lo))) / (2 * step)
    eyex = res.get_margeff(method="eyex").margeff
    assert_allclose(eyex[0], (slope * exog[:, 1:2]).mean(0), rtol=1e-6)
    assert np.all(np.isfinite(res.get_margeff(dummy=True).margeff_se))


def test_atexog_by_name_equals_by_index_and_options_are_checked(frame):
    res, _ = _pair(frame, 2)
    assert_allclose(res.get_margeff(atexog={"x2": 0.5}).margeff, res.get_margeff(atexog={2: 0.5}).margeff)
    with pytest.raises(ValueError, match="not allow method='eyex'"):
        res.get_margeff(method="eyex", dummy=True)
    with pytest.raises(ValueError, match="intercept"):
        res.get_margeff(atexog={"const": 2.0})
    with pytest.raises(ValueError, match="not one of"):
        res.get_margeff(atexog={"age": 2.0})
    assert "d(lny)/d(lnx)" in str(res.get_margeff(method="eyex").summary())


def test_results_fitted_on_a_dataframe_carry_names(frame):
    X, y, _ = frame
    res, ref = _pair(frame, 2)
    for name in ("params", "bse", "tvalues", "pvalues"):
        value, expected = getattr(res, name), getattr(ref, name)
        assert isinstance(value, pd.Series) and value.index.tolist() == expected.index.tolist()
        assert_allclose(value, expected, rtol=RTOL, atol=1e-10, err_msg=name)
    assert_allclose(res.params["x2"], ref.params["x2"], atol=1e-8)
    ci = res.conf_int()
    assert isinstance(ci, pd.DataFrame) and ci.columns.tolist() == ref.conf_int().columns.tolist() == [0, 1]
    assert_allclose(ci.loc["d"], ref.conf_int().loc["d"], rtol=RTOL)
    cov = res.cov_params()
    assert cov.index.tolist() == cov.columns.tolist() == ref.cov_params().index.tolist()
    assert_allclose(cov.loc["x1", "cnt"], ref.cov_params().loc["x1", "cnt"], rtol=RTOL)
    plain = LogisticRegression(C=np.inf, tol=1e-12).fit(X.to_numpy(), y.to_numpy())
    arrays = plain.summary(X.to_numpy(), y.to_numpy())
    assert type(arrays.params) is np.ndarray and type(arrays.conf_int()) is np.ndarray
    named = plain.summary(X.to_numpy(), y.to_numpy(), xname=["a", "b", "c", "e"])
    assert named.params.index.tolist() == ["const", "a", "b", "c", "e"]


def test_multinomial_names_follow_mnlogit(frame):
    res, ref = _pair(frame, 3)
    assert isinstance(res.params, pd.DataFrame) and res.params.index.tolist() == ref.params.index.tolist()
    assert res.params.columns.tolist() == ["1", "2"]  # the modelled classes (statsmodels: 0, 1)
    assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), atol=1e-8)
    assert_allclose(res.bse.to_numpy(), ref.bse.to_numpy(), rtol=RTOL)
    ci, ci_ref = res.conf_int(), ref.conf_int()
    assert ci.columns.tolist() == ci_ref.columns.tolist() == ["lower", "upper"]
    assert [(str(a), b) for a, b in ci_ref.index] == list(ci.index)
    assert_allclose(ci.to_numpy(), ci_ref.to_numpy(), rtol=RTOL)
    assert_allclose(res.cov_params().to_numpy(), ref.cov_params().to_numpy(), rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_summary2_tables_match_statsmodels(frame, n_classes):
    res, ref = _pair(frame, n_classes)
    ours, theirs = res.summary2(), ref.summary2()
    assert len(ours.tables) == len(theirs.tables) == n_classes  # description + one per equation
    for mine, expected in zip(ours.tables[1:], theirs.tables[1:], strict=True):
        numbers = expected.select_dtypes("number")
        assert mine.index.tolist() == numbers.index.tolist()
        assert_allclose(mine.to_numpy(), numbers.to_numpy(), rtol=1e-5, atol=1e-10)
    assert mine.columns[0] == "Coef." and "Log-Likelihood:" in ours.as_text() and "<table" in ours.as_html()
