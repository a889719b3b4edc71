"""Regularisation paths, their plots, and LogisticRegressionCV (incl. scikit-learn's estimator checks)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.metrics import get_scorer
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks
from support.synthetic import make_classification_data

import torchlogit
from torchlogit import LogisticRegression, LogisticRegressionCV
from torchlogit.core.objective import Objective
from torchlogit.data import InMemorySource
from torchlogit.estimators.paths import smallest_c
from torchlogit.reporting.plots import plot_cv_curve, plot_path

# explicit l1_ratios, scoring and layout: scikit-learn 1.9's defaults warn that they will change
QUIET_CV = {"scoring": "neg_log_loss", "use_legacy_attributes": False}


# Some checks fit 5 rows with cv=3, where scikit-learn's StratifiedKFold rightly warns that a class
# has fewer members than folds; the check itself must still pass. tol=1e-10: the sample-weight
# equivalence check compares two fits to rtol=1e-7, which scikit-learn's default tol=1e-4 need not meet;
# the lasso's Cs stop short of 1e4, where the checks' tiny separable data have no finite optimum.
@parametrize_with_checks([LogisticRegressionCV(Cs=3, cv=3, l1_ratios=(0,), tol=1e-10, **QUIET_CV),
                          LogisticRegressionCV(Cs=[0.1, 1.0, 10.0], cv=3, l1_ratios=(1,), solver="auto",
                                               tol=1e-10, **QUIET_CV)])
@pytest.mark.filterwarnings("ignore:The least populated class in y:UserWarning")
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_an_l1_path_without_intercept_starts_from_an_empty_working_set():
    # at the first C every coefficient is zero and nothing is unpenalised: an empty working set
    X, y, _ = make_classification_data(n=300, d=5, seed=32)
    result = torchlogit.path(X, y, Cs=5, l1_ratio=1.0, fit_intercept=False)
    assert result.n_nonzero[0] == 0 and result.converged.all()
    ref = SkLogisticRegression(l1_ratio=1, C=result.Cs[-1], fit_intercept=False, solver="liblinear",
                               tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(result.coefs[-1], ref.coef_, atol=1e-6)


def test_path_matches_independent_fits_and_starts_empty():
    X, y, _ = make_classification_data(n=400, d=8, seed=31)
    result = torchlogit.path(X, y, Cs=8, l1_ratio=1.0)
    assert np.all(np.diff(result.Cs) > 0) and result.converged.all()
    assert result.n_nonzero[0] == 0 and result.n_nonzero[-1] == 8
    assert np.all(np.diff(result.n_nonzero) >= 0)  # on this data features only enter
    for C, coef, intercept, f in zip(result.Cs, result.coefs, result.intercepts, result.objectives,
                                     strict=True):
        single = LogisticRegression(l1_ratio=1, C=C).fit(X, y)
        np.testing.assert_array_equal(coef != 0, single.coef_ != 0)
        np.testing.assert_allclose(coef, single.coef_, atol=1e-6)
        np.testing.assert_allclose(intercept, single.intercept_, atol=1e-6)
        assert f == pytest.approx(single.objective_, rel=1e-10)


def test_path_warm_starts_save_passes():
    X, y, _ = make_classification_data(n=400, d=8, seed=32)
    result = torchlogit.path(X, y, Cs=10, l1_ratio=1.0)
    cold = sum(LogisticRegression(l1_ratio=1, C=C).fit(X, y).n_passes_ for C in result.Cs)
    assert result.n_passes < cold


def test_smallest_c_is_where_the_first_coefficient_enters():
    X, y, sw = make_classification_data(n=300, d=6, n_classes=3, seed=33, weights=True)
    source = InMemorySource(torch.tensor(X), torch.tensor(y), torch.tensor(sw))
    objective = Objective(source, n_outputs=3, fit_intercept=True, l2=None, dtype=torch.float64, device="cpu")
    c0 = smallest_c(objective, 0.5, None)
    below = LogisticRegression(l1_ratio=0.5, C=0.99 * c0).fit(X, y, sample_weight=sw)
    above = LogisticRegression(l1_ratio=0.5, C=1.05 * c0).fit(X, y, sample_weight=sw)
    assert np.all(below.coef_ == 0) and np.any(above.coef_ != 0)


@pytest.mark.parametrize(("n_classes", "l1_ratio"), [(3, 0.5), (2, 0.0)])
def test_path_with_explicit_cs_matches_the_estimator(n_classes, l1_ratio):
    X, y, _ = make_classification_data(n=300, d=5, n_classes=n_classes, seed=34)
    Cs = [1.0, 0.01, 0.1]
    result = torchlogit.path(X, y, Cs=Cs, l1_ratio=l1_ratio)
    np.testing.assert_allclose(result.Cs, sorted(Cs))
    for C, coef in zip(result.Cs, result.coefs, strict=True):
        single = LogisticRegression(l1_ratio=l1_ratio, C=C).fit(X, y)
        np.testing.assert_allclose(coef, single.coef_, atol=1e-6)


def test_path_on_sparse_input_and_with_penalty_factor():
    X, y, _ = make_classification_data(n=300, d=6, seed=35)
    X[np.abs(X) < 0.5] = 0.0
    factor = [0.0, 1, 1, 1, 1, 1]
    # tight: sparse binomial rows take another solver (solvers/sparse_cd.py), so agreement to 1e-10
    # needs both near the exact optimum
    dense = torchlogit.path(X, y, Cs=5, penalty_factor=factor, tol=1e-12)
    sparse = torchlogit.path(sp.csr_matrix(X), y, Cs=5, penalty_factor=factor, tol=1e-12)
    np.testing.assert_allclose(sparse.coefs, dense.coefs, atol=1e-10)
    assert np.all(dense.coefs[:, 0, 0] != 0)  # the unpenalised feature is in from the start
    assert dense.n_nonzero[0] == 1


def test_path_rejects_bad_arguments():
    X, y, _ = make_classification_data(n=50, d=3, seed=36)
    with pytest.raises(ValueError, match="l1_ratio"):
        torchlogit.path(X, y, l1_ratio=2.0)
    with pytest.raises(ValueError, match="Cs must be"):
        torchlogit.path(X, y, Cs=[1.0, -1.0])
    with pytest.raises(ValueError, match="at least 2 classes"):
        torchlogit.path(X, np.zeros(50))


def test_path_and_cv_plots_are_written(tmp_path):
    X, y, _ = make_classification_data(n=200, d=5, n_classes=3, seed=37)
    result = torchlogit.path(X, y, Cs=6)
    out = plot_path(result.Cs, result.coefs, tmp_path / "path.png", class_names=["a", "b", "c"])
    assert out.read_bytes()[:4] == b"\x89PNG"
    cv = LogisticRegressionCV(l1_ratios=(1,), solver="auto", Cs=4, cv=3, **QUIET_CV).fit(X, y)
    out = plot_cv_curve(cv.Cs_, cv.mean_scores_, cv.std_scores_, cv.C_, tmp_path / "cv.png")
    assert out.read_bytes()[:4] == b"\x89PNG"


# scikit-learn's LogisticRegression as the reference, at tight tolerances (saga for an L1 part)
REFERENCE = {0.0: {"solver": "newton-cholesky", "tol": 1e-12},
             0.5: {"solver": "saga", "tol": 1e-12, "max_iter": 100_000},
             1.0: {"solver": "saga", "tol": 1e-12, "max_iter": 100_000}}


@pytest.mark.parametrize(("l1_ratio", "n_classes"), [(1.0, 2), (0.5, 3), (0.0, 2)])
def test_cv_scores_are_cross_val_scores_and_refit_is_the_single_fit(l1_ratio, n_classes):
    X, y, _ = make_classification_data(n=120, d=4, n_classes=n_classes, seed=38)
    Cs = [0.03, 0.3, 3.0]
    cv = LogisticRegressionCV(l1_ratios=(l1_ratio,), Cs=Cs, cv=4, solver="auto", tol=1e-10, **QUIET_CV)
    cv.fit(X, y)
    assert cv.scores_.shape == (4, 1, 3) and cv.C_ in cv.Cs_
    assert cv.Cs_[np.argmax(cv.mean_scores_)] == cv.C_
    folds = StratifiedKFold(4)
    for C, mean in zip(cv.Cs_, cv.mean_scores_, strict=True):
        single = SkLogisticRegression(C=C, l1_ratio=l1_ratio, **REFERENCE[l1_ratio])
        expected = cross_val_score(single, X, y, cv=folds, scoring="neg_log_loss").mean()
        assert mean == pytest.approx(expected, rel=1e-6)
    refit = SkLogisticRegression(C=cv.C_, l1_ratio=l1_ratio, **REFERENCE[l1_ratio]).fit(X, y)
    np.testing.assert_allclose(cv.coef_, refit.coef_, rtol=1e-5, atol=1e-8)
    assert cv.score(X, y) == get_scorer("neg_log_loss")(cv, X, y)


def test_cv_with_accuracy_scoring_and_no_refit():
    X, y, _ = make_classification_data(n=200, d=4, seed=39)
    cv = LogisticRegressionCV(l1_ratios=(1,), solver="auto", Cs=[0.01, 0.1, 1.0], scoring="accuracy",
                              refit=False, use_legacy_attributes=False).fit(X, y)
    assert np.all((cv.scores_ >= 0) & (cv.scores_ <= 1))
    assert cv.coef_.shape == (1, 4) and not hasattr(cv, "best_estimator_")
    with pytest.raises(ValueError, match="penalty must be"):
        LogisticRegressionCV(penalty=None).fit(X, y)


# ------------------------------------------------------------------------------------------ CLI
def _csv(path, X, y):
    lines = [",".join([*(f"f{j}" for j in range(X.shape[1])), "label"])]
    lines += [",".join([*(repr(float(v)) for v in row), str(label)]) for row, label in zip(X, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_fit_with_l1_and_elasticnet(tmp_path, capsys):
    from torchlogit.cli.main import main
    from torchlogit.serving.modelfile import load_model

    X, y, _ = make_classification_data(n=200, d=6, seed=41)
    data = _csv(tmp_path / "d.csv", X, y)
    model = tmp_path / "m.safetensors"
    assert main(["fit", str(data), "--target", "label", "--out", str(model), "--quiet",
                 "--penalty", "l1", "--C", "0.02"]) == 0
    text = capsys.readouterr().out
    assert "solver prox_newton" in text and "sparsity:" in text
    loaded = load_model(model)
    assert loaded.l1_ratio == 1.0 and (loaded.coef_ == 0).any()
    assert main(["fit", str(data), "--target", "label", "--out", str(model), "--quiet",
                 "--penalty", "elasticnet", "--l1-ratio", "0.5"]) == 0
    assert load_model(model).l1_ratio == 0.5


def test_cli_fit_with_cross_validation(tmp_path, capsys):
    from torchlogit.cli.main import main
    from torchlogit.serving.modelfile import load_model

    X, y, _ = make_classification_data(n=200, d=5, n_classes=3, seed=42)
    data = _csv(tmp_path / "d.csv", X, y)
    model = tmp_path / "m.safetensors"
    assert main(["fit", str(data), "--target", "label", "--out", str(model), "--quiet",
                 "--penalty", "l1", "--cv", "3", "--Cs", "5"]) == 0
    text = capsys.readouterr().out
    assert "chosen C =" in text and text.count("<- chosen") == 1
    plot = tmp_path / "m-cv.png"
    assert plot.read_bytes()[:4] == b"\x89PNG"
    chosen = float(text.split("chosen C = ")[1].split()[0])
    assert pytest.approx(chosen, rel=1e-5) == load_model(model).C


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--penalty", "l1", "--l1-ratio", "0.5"], "--l1-ratio applies to --penalty elasticnet"),
        (["--penalty", "none", "--cv", "3"], "--cv chooses the penalty strength"),
        (["--cv", "1"], "at least 2 folds"),
        (["--penalty", "l1", "--solver", "lbfgs"], "prox_newton"),
        (["--penalty", "elasticnet"], "l1_ratio"),
    ],
)
def test_cli_penalty_errors_are_one_line(tmp_path, capsys, extra, message):
    from torchlogit.cli.main import main

    X, y, _ = make_classification_data(n=60, d=3, seed=43)
    data = _csv(tmp_path / "d.csv", X, y)
    assert main(["fit", str(data), "--target", "label", "--out", str(tmp_path / "m.safetensors"),
                 "--quiet", *extra]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
