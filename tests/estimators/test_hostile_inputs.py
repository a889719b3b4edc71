"""Hostile parameters and data: one clear ValueError naming the cause, never a LinAlgError or a NaN model.

Issue 15, items 4, 9 and 10 (library side): features too large for the dtype, non-finite
parameters, overflowing sample weights, diverging fits and inconsistent penalty combinations.
"""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from support.synthetic import make_classification_data

import torchlogit
from torchlogit import LogisticRegression, LogisticRegressionCV
from torchlogit.core.model import LogisticModel
from torchlogit.core.objective import Objective
from torchlogit.data import InMemorySource
from torchlogit.estimators import logistic as logistic_module
from torchlogit.estimators import paths as paths_module
from torchlogit.estimators._firth_problem import FitResult
from torchlogit.estimators.firth import FirthLogisticRegression, FirthProblem
from torchlogit.estimators.streaming import fit_files
from torchlogit.solvers import SolverResult
from torchlogit.solvers.newton import newton_direction
from torchlogit.solvers.prox_newton import _solve_symmetric
from torchlogit.solvers.stochastic import StochasticOptions
from torchlogit.tutorial.training import train

# scikit-learn 1.9's LogisticRegressionCV warns unless these are explicit (their defaults change in 1.10/1.11)
CV_1_9 = {"l1_ratios": (0,), "scoring": "neg_log_loss", "use_legacy_attributes": False}


def _data(n=120, d=3, n_classes=2, seed=0):
    X, y, _ = make_classification_data(n=n, d=d, n_classes=n_classes, seed=seed)
    return X, y


def _huge_column(X, column=1, scale=1e200):
    X = X.copy()
    X[:, column] *= scale
    return X


# ------------------------------------------------------------ item 4: features too large for the dtype
@pytest.mark.parametrize(
    "params",
    [{}, {"C": np.inf}, {"solver": "lbfgs"}, {"l1_ratio": 1}, {"l1_ratio": 0.5}],
    ids=["newton", "unpenalised", "lbfgs", "l1", "elasticnet"],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_column_near_1e200_is_named_not_a_linalg_error(params, n_classes):
    X, y = _data(n_classes=n_classes)
    with pytest.raises(ValueError, match=r"feature column 'x2' .*too large for float64.*rescale"):
        LogisticRegression(**params).fit(_huge_column(X), y)


def test_sgd_steps_on_a_column_near_1e200_end_in_an_error():
    X, y = _data()
    with pytest.raises(ValueError, match=r"solver 'sgd' diverged.*standardise the features"):
        LogisticRegression(solver="sgd", max_iter=5).fit(_huge_column(X), y)


def test_the_column_is_named_after_the_dataframe_column():
    X, y = _data()
    frame = pd.DataFrame(_huge_column(X, column=2), columns=["age", "income", "debt"])
    with pytest.raises(ValueError, match=r"feature column 'debt' "):
        LogisticRegression().fit(frame, y)


def test_float32_fits_name_columns_too_large_for_float32():
    X, y = _data()
    with pytest.raises(ValueError, match=r"feature column 'x2' .*too large for float32.*dtype='float64'"):
        LogisticRegression(dtype="float32").fit(_huge_column(X, scale=1e25), y)
    # beyond float32's range the cast itself overflows: still the column, not a NaN fit
    with pytest.raises(ValueError, match=r"feature column 'x2' .*too large for float32"):
        LogisticRegression(dtype="float32").fit(_huge_column(X, scale=1e200), y)


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_objective_over_an_in_memory_source_names_the_overflowing_column(n_outputs):
    X, y = _data(n_classes=2 if n_outputs == 1 else 3)
    X = _huge_column(X, column=0)
    source = InMemorySource(torch.tensor(X), torch.tensor(y), torch.ones(len(y), dtype=torch.float64))
    objective = Objective(source, n_outputs=n_outputs, fit_intercept=True, l2=None, dtype=torch.float64,
                          device="cpu")
    coef = objective.zeros()
    assert np.isfinite(objective.value(coef))  # F itself is fine; its Hessian overflows
    with pytest.raises(ValueError, match=r"feature column 'x1' .*too large for float64"):
        objective.value_grad_hess(coef)
    with pytest.raises(ValueError, match=r"feature column 'x1' "):  # a block of the Hessian alone
        objective.value_grad_hess(coef, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"feature column 'x1' "):  # L-BFGS's standardising pass
        objective.column_moments()
    named = Objective(source, n_outputs=n_outputs, fit_intercept=True, l2=None, dtype=torch.float64,
                      device="cpu", feature_names=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"feature column 'a' "):
        named.with_l2(None).value_grad_hess(coef)


def test_an_overflowing_gradient_names_its_column():
    X, y = _data()
    X[:, 2] = np.where(y == 0, 1e307, 0.0)  # Σ (p - y) x = ½ Σ_{y=0} x overflows; Σ x² already did
    source = InMemorySource(torch.tensor(X), torch.tensor(y), torch.ones(len(y), dtype=torch.float64))
    objective = Objective(source, n_outputs=1, fit_intercept=True, l2=None, dtype=torch.float64, device="cpu")
    with pytest.raises(ValueError, match=r"feature column 'x3' "):
        objective.value_grad(objective.zeros())


def test_a_streamed_column_near_1e200_is_named_by_its_name(tmp_path):
    X, y = _data()
    X = _huge_column(X, column=1)
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"f0": X[:, 0], "big": X[:, 1], "f2": X[:, 2], "y": y}), path)
    with pytest.raises(ValueError, match=r"feature column 'big' .*too large for float64"):
        fit_files(LogisticRegression(), path, target="y")


def test_cv_paths_and_firth_name_the_column_too():
    X, y = _data()
    big = _huge_column(X)
    with pytest.raises(ValueError, match=r"feature column 'x2' .*too large"):
        LogisticRegressionCV(Cs=3, cv=2, **CV_1_9).fit(big, y)
    with pytest.raises(ValueError, match=r"feature column 'x2' .*too large"):
        torchlogit.path(big, y, Cs=3, l1_ratio=0.0)
    with pytest.raises(ValueError, match=r"feature column 'x2' .*too large"):
        FirthLogisticRegression().fit(big, y)


def test_linalg_failures_in_solvers_become_value_errors(monkeypatch):
    bad = torch.full((3, 3), float("inf"), dtype=torch.float64)
    with pytest.raises(ValueError, match="Hessian"):
        newton_direction(bad, torch.ones(3, dtype=torch.float64))

    def failing_eigh(_):
        raise torch.linalg.LinAlgError("linalg.eigh: The algorithm failed to converge")

    monkeypatch.setattr(torch.linalg, "eigh", failing_eigh)
    singular = torch.zeros(3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"Newton.*standardise"):
        newton_direction(singular, torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="not finite"):
        _solve_symmetric(np.full((2, 2), np.nan), np.ones(2))


def test_firth_linalg_failures_become_value_errors(monkeypatch):
    X, y = _data()
    problem = FirthProblem(X, y, np.ones(len(y)), fit_intercept=True, device=torch.device("cpu"))

    def failing_solve(*_args, **_kwargs):
        raise torch.linalg.LinAlgError("linalg.solve: the input matrix is singular")

    point = problem.evaluate(problem.X.new_zeros(problem.n_params))
    some_free = torch.ones(problem.n_params, dtype=torch.bool)
    some_free[0] = False  # a constrained (profile) step: it factorises its own block
    monkeypatch.setattr(torch.linalg, "solve", failing_solve)
    monkeypatch.setattr(torch.linalg, "cholesky_ex", lambda A: (A, torch.tensor(1)))
    with pytest.raises(ValueError, match="Firth"):
        problem._direction(point, some_free, newton=True)


# ------------------------------------------------------------ item 9: non-finite parameters
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("rate", [np.inf, np.nan, -np.inf])
def test_a_non_finite_learning_rate_is_refused(optimizer, rate):
    X, y = _data()
    with pytest.raises(ValueError, match="learning_rate must be a positive"):
        LogisticRegression(solver=optimizer, learning_rate=rate).fit(X, y)
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        StochasticOptions(optimizer=optimizer, learning_rate=rate)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_diverging_stochastic_fit_is_an_error_not_a_model(optimizer):
    X, y = _data()
    model = LogisticRegression(solver=optimizer, learning_rate=1e300, max_iter=20)
    with pytest.raises(ValueError, match=rf"solver '{optimizer}' diverged.*smaller learning_rate"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def test_train_refuses_to_return_a_diverged_model():
    X, y = _data()
    model = LogisticModel(3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"solver 'sgd' diverged: F = (inf|nan) after epoch 1 .*smaller"):
        train(model, torch.tensor(_huge_column(X)), torch.tensor(y), epochs=20, lr=0.1)
    with pytest.raises(ValueError, match=r"learning_rate must be positive and finite, got inf"):
        train(model, torch.tensor(X), torch.tensor(y), epochs=20, lr=np.inf)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_learning_rate_beyond_the_dtype_is_refused_not_a_runtime_error(optimizer):
    X, y = _data()
    with pytest.raises(ValueError, match=r"learning_rate=1e\+300 is beyond the range of float32"):
        train(LogisticModel(3), torch.tensor(X, dtype=torch.float32), torch.tensor(y), lr=1e300,
              optimizer=optimizer)
    with pytest.raises(ValueError, match=r"learning_rate=1e\+300 is beyond the range of float32"):
        LogisticRegression(solver=optimizer, learning_rate=1e300, dtype="float32").fit(X, y)


@pytest.mark.parametrize("l2", [np.nan, np.inf, -1.0])
def test_train_refuses_a_bad_l2(l2):
    X, y = _data()
    with pytest.raises(ValueError, match="l2 must be"):
        train(LogisticModel(3, dtype=torch.float64), torch.tensor(X), torch.tensor(y), epochs=2, l2=l2)


@pytest.mark.parametrize("tol", [np.nan, np.inf])
def test_a_non_finite_tol_is_refused_everywhere(tol):
    X, y = _data()
    with pytest.raises(ValueError, match=r"tol must be a non-negative finite number, got (nan|inf)$"):
        LogisticRegression(tol=tol).fit(X, y)
    with pytest.raises(ValueError, match="tol must be"):
        LogisticRegressionCV(Cs=2, tol=tol, **CV_1_9).fit(X, y)
    with pytest.raises(ValueError, match="tol must be"):
        torchlogit.path(X, y, Cs=2, tol=tol)
    with pytest.raises(ValueError, match="tol must be"):
        FirthLogisticRegression(tol=tol).fit(X, y)


def test_parameter_values_print_plainly():
    X, y = _data()
    with pytest.raises(ValueError, match=r"C must be a positive number \(np.inf for no penalty\), got nan$"):
        LogisticRegression(C=np.float64("nan")).fit(X, y)
    with pytest.raises(ValueError, match=r"got -1.0$"):
        LogisticRegression(tol=np.float64(-1.0)).fit(X, y)


def test_a_c_so_small_that_the_penalty_overflows_is_refused():
    X, y = _data()
    with pytest.raises(ValueError, match=r"C=1e-320 is too small"):
        LogisticRegression(C=1e-320).fit(X, y)


@pytest.mark.parametrize("ratio", [np.nan, np.inf])
def test_a_non_finite_l1_ratio_is_refused(ratio):
    X, y = _data()
    with pytest.raises(ValueError, match="l1_ratio"):
        LogisticRegression(l1_ratio=ratio).fit(X, y)
    with pytest.raises(ValueError, match="l1_ratio"):
        torchlogit.path(X, y, Cs=2, l1_ratio=ratio)


@pytest.mark.parametrize(
    ("factor", "message"),
    [
        ([1.0, -1.0, 1.0], r"penalty_factor\[1\] is negative \(-1.0\)"),
        ([1.0, 1.0, np.nan], r"penalty_factor\[2\] is not finite \(nan\)"),
        ([1.0, np.inf, 1.0], r"penalty_factor\[1\] is not finite \(inf\)"),
        ([1.0, 1.0], r"penalty_factor has 2 values; the data have 3 features"),
        ([[1.0, 1.0, 1.0]], r"penalty_factor has shape \(1, 3\); .* 3 features"),
    ],
)
def test_a_bad_penalty_factor_says_what_is_wrong(factor, message):
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        LogisticRegression(l1_ratio=1, penalty_factor=factor).fit(X, y)
    with pytest.raises(ValueError, match=message):
        torchlogit.path(X, y, Cs=2, penalty_factor=factor)


def test_sample_weights_whose_sum_overflows_are_refused():
    X, y = _data()
    weights = np.full(len(y), 1e308)
    message = r"sample_weight .*too large: .*sum overflows"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warning on the way
        with pytest.raises(ValueError, match=message):
            LogisticRegression().fit(X, y, sample_weight=weights)
        with pytest.raises(ValueError, match=message):
            LogisticRegressionCV(Cs=2, **CV_1_9).fit(X, y, sample_weight=weights)
        with pytest.raises(ValueError, match=message):
            torchlogit.path(X, y, Cs=2, sample_weight=weights)
        with pytest.raises(ValueError, match=message):
            FirthLogisticRegression().fit(X, y, sample_weight=weights)
        with pytest.raises(ValueError, match=r"sample_weight .*too large .*float32"):
            LogisticRegression(dtype="float32").fit(X, y, sample_weight=np.full(len(y), 1e200))


def test_class_weights_that_overflow_the_weights_are_refused():
    X, y = _data()
    with pytest.raises(ValueError, match=r"class_weight .*too large"):
        LogisticRegression(class_weight={0: 1.0, 1: 1e308}).fit(X, y, sample_weight=np.full(len(y), 10.0))


def test_an_objective_over_weights_whose_sum_overflows_is_refused():
    X, y = _data()
    weights = torch.full((len(y),), 1e308, dtype=torch.float64)
    source = InMemorySource(torch.tensor(X), torch.tensor(y), weights)
    with pytest.raises(ValueError, match="sample weights sum to inf"):
        Objective(source, n_outputs=1, fit_intercept=True, l2=None, dtype=torch.float64, device="cpu")


# ------------------------------------------------------------ item 9: non-finite results
def _non_finite_result(objective, coef0, **_kwargs):
    coef = torch.full_like(coef0, float("nan"))
    return SolverResult(coef=coef, n_iter=1, converged=True, grad_max=0.0, objective=float("nan"), n_passes=1)


def test_a_fit_ending_with_non_finite_coefficients_is_an_error(monkeypatch):
    X, y = _data()
    monkeypatch.setattr(logistic_module, "newton", _non_finite_result)
    model = LogisticRegression()
    with pytest.raises(ValueError, match=r"solver 'newton' ended with non-finite coefficients.*standardise"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def test_a_path_or_cv_fit_ending_non_finite_is_an_error(monkeypatch):
    X, y = _data()
    monkeypatch.setattr(paths_module, "newton", _non_finite_result)
    with pytest.raises(ValueError, match=r"solver 'newton' at C=1 ended with non-finite coefficients"):
        torchlogit.path(X, y, Cs=[1.0], l1_ratio=0.0)
    with pytest.raises(ValueError, match=r"solver 'newton' at C=1 ended with non-finite coefficients"):
        LogisticRegressionCV(Cs=[1.0], cv=2, **CV_1_9).fit(X, y)


def test_a_firth_fit_ending_non_finite_is_an_error(monkeypatch):
    X, y = _data()

    def nan_fit(self, beta0, free=None, until=None):
        point = dataclasses.replace(self.evaluate(beta0), beta=torch.full_like(beta0, float("nan")),
                                    pen=float("nan"))
        return FitResult(point, n_iter=1, converged=True)

    monkeypatch.setattr(FirthProblem, "fit", nan_fit)
    with pytest.raises(ValueError, match="Firth's fit ended with non-finite coefficients"):
        FirthLogisticRegression().fit(X, y)


@pytest.mark.parametrize(("max_step", "max_halfstep"), [(np.nan, 25), (np.inf, 25), (0.0, 25), (5.0, -1)])
def test_firth_refuses_bad_step_controls(max_step, max_halfstep):
    X, y = _data()
    with pytest.raises(ValueError, match=r"max_step|max_halfstep"):
        FirthLogisticRegression(max_step=max_step, max_halfstep=max_halfstep).fit(X, y)


# ------------------------------------------------------------ weak messages
@pytest.mark.parametrize("estimator", [LogisticRegression(), LogisticRegressionCV(Cs=2, **CV_1_9)])
def test_the_one_class_message_prints_the_plain_label(estimator):
    with pytest.raises(ValueError, match=r"contains only one class: 1\.0$"):
        estimator.fit(np.ones((6, 2)), np.ones(6))


# ------------------------------------------------------------ item 10: inconsistent combinations
def test_firth_takes_no_penalty():
    with pytest.raises(TypeError, match="penalty"):
        FirthLogisticRegression(penalty="l1")
    with pytest.raises(ValueError, match="penalty"):
        FirthLogisticRegression().set_params(penalty="l1")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"penalty": "l2", "l1_ratio": 0.5}, r"l1_ratio=0.5 applies only to penalty='elasticnet'"),
        ({"penalty": "l1", "l1_ratio": 0.5}, r"l1_ratio=0.5 applies only to penalty='elasticnet'"),
        ({"C": np.inf, "penalty_factor": [1, 0, 1]}, r"penalty_factor has no effect with penalty=None"),
    ],
)
@pytest.mark.filterwarnings("ignore:'penalty' was deprecated:FutureWarning")  # the deprecated spelling
def test_inconsistent_penalty_combinations_are_refused(params, message):
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        LogisticRegression(**params).fit(X, y)


@pytest.mark.parametrize(("penalty", "l1_ratio"), [("l2", 0), ("l1", 1)])
@pytest.mark.filterwarnings("ignore::FutureWarning")  # penalty= warns, as in scikit-learn
def test_an_l1_ratio_that_agrees_with_the_penalty_is_accepted(penalty, l1_ratio):
    X, y = _data()
    both = LogisticRegression(penalty=penalty, l1_ratio=l1_ratio, C=0.5).fit(X, y)
    ratio_only = LogisticRegression(l1_ratio=l1_ratio, C=0.5).fit(X, y)
    np.testing.assert_array_equal(both.coef_, ratio_only.coef_)


def test_several_columns_are_listed_with_a_count_beyond_ten():
    X = np.random.default_rng(0).normal(size=(40, 14)) * 1e200
    y = np.arange(40) % 2
    with pytest.raises(ValueError, match=r"feature columns 'x1', 'x2', .*'x10' and 4 more hold values"):
        LogisticRegression().fit(X, y)


def test_a_working_set_names_the_column_of_the_full_problem():
    from torchlogit.core.penalties import elastic_net
    from torchlogit.solvers.working_set import PathHint, working_set_prox_newton

    X, y, _ = make_classification_data(n=200, d=60, seed=0)
    X[:, 30] *= 1e200
    source = InMemorySource(torch.tensor(X), torch.tensor(y), torch.ones(len(y), dtype=torch.float64))
    objective = Objective(source, n_outputs=1, fit_intercept=True, l2=None, dtype=torch.float64, device="cpu")
    _, l1 = elastic_net(0.01, 1.0, 60, True, None, dtype=torch.float64, device="cpu")
    guess = torch.zeros(1, 61, dtype=torch.bool)
    guess[0, [3, 30]] = True
    with pytest.raises(ValueError, match=r"feature column 'x31' "):
        working_set_prox_newton(objective, objective.zeros(), l1=l1, hint=PathHint(working_set=guess))


@pytest.mark.parametrize("scale", [1e25, 1e100], ids=["squares-overflow-float32", "values-overflow-float32"])
def test_newton_runs_in_full_precision_when_float32_cannot_hold_the_data(scale):
    from torchlogit.solvers import newton

    X, y = _data()
    X = _huge_column(X, scale=scale)
    objectives = []
    for dtype in (torch.float64, torch.float32):
        rows = InMemorySource(torch.tensor(X, dtype=dtype), torch.tensor(y), torch.ones(len(y), dtype=dtype))
        objectives.append(Objective(rows, n_outputs=1, fit_intercept=True, l2=None, dtype=dtype,
                                    device="cpu"))
    full = newton(objectives[0], objectives[0].zeros(), max_iter=5)
    mixed = newton(objectives[0], objectives[0].zeros(), max_iter=5, hessian_objective=objectives[1])
    assert torch.equal(mixed.coef, full.coef)  # the same float64 steps: no float32 phase
    assert mixed.history == full.history
