"""Newton, L-BFGS and SGD called directly on an Objective reach scikit-learn's optimum.

Our objective is ``mean loss + ½λ‖W‖²`` with ``λ = 1/(C·Σsᵢ)``: scikit-learn's ``C·Σsᵢℓᵢ + ½‖W‖²``
divided by ``C·Σsᵢ``, so both have the same minimiser.
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from support.synthetic import make_classification_data

from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L2Penalty, column_strengths
from torchlogit.data import InMemorySource
from torchlogit.solvers import StochasticOptions, lbfgs, newton, stochastic

C = 0.8
CASES = [  # (n_classes, fit_intercept, weighted)
    (2, True, False),
    (2, False, True),
    (3, True, True),
    (4, False, False),
]


def _problem(n_classes, fit_intercept, weighted, *, chunk_rows=None):
    """The objective, scikit-learn's optimum as our coefficient matrix, and F there."""
    X, y, sw = make_classification_data(n=240, d=3, n_classes=n_classes, seed=n_classes, weights=weighted)
    X = (X - X.mean(0)) / X.std(0) + 0.5  # uncentred, as real features are
    w = np.ones(len(y)) if sw is None else sw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FutureWarnings of scikit-learn 1.8+
        ref = SkLogisticRegression(C=C, solver="newton-cholesky", tol=1e-14, max_iter=100,
                                   fit_intercept=fit_intercept)
        ref.fit(X, y, sample_weight=w)
    expected = np.hstack([ref.coef_, ref.intercept_[:, None]]) if fit_intercept else ref.coef_
    source = InMemorySource(torch.tensor(X), torch.tensor(y), torch.tensor(w), chunk_rows=chunk_rows)
    strength = column_strengths(1.0 / (C * w.sum()), X.shape[1], fit_intercept, None,
                                dtype=torch.float64, device="cpu")
    objective = Objective(source, n_outputs=1 if n_classes == 2 else n_classes, fit_intercept=fit_intercept,
                          l2=L2Penalty(strength), dtype=torch.float64, device="cpu")
    expected = torch.as_tensor(expected, dtype=torch.float64)
    return objective, expected, objective.value(expected)


def _assert_at_optimum(objective, result, expected, f_expected, *, atol, rel):
    """Coefficients within ``atol`` of scikit-learn's, F no worse than there (to ``rel``), and the
    reported F and max |∇F| those of the returned coefficients."""
    np.testing.assert_allclose(result.coef.numpy(), expected.numpy(), rtol=0, atol=atol)
    f, grad = objective.value_grad(result.coef)
    assert f == pytest.approx(result.objective, rel=1e-14)
    assert float(grad.abs().max()) == pytest.approx(result.grad_max, rel=1e-6, abs=1e-15)
    assert f <= f_expected * (1 + rel)
    assert f == pytest.approx(f_expected, rel=rel)


@pytest.mark.parametrize(("n_classes", "fit_intercept", "weighted"), CASES)
def test_newton_reaches_the_sklearn_optimum(n_classes, fit_intercept, weighted):
    objective, expected, f_expected = _problem(n_classes, fit_intercept, weighted, chunk_rows=50)
    result = newton(objective, objective.zeros(), tol=1e-11)
    assert result.converged and result.grad_max <= 1e-11
    assert result.n_passes == len(result.history) <= 12  # one pass per step: F, ∇F, Hessian together
    _assert_at_optimum(objective, result, expected, f_expected, atol=1e-9, rel=1e-13)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_newton_with_sampled_hessians_reaches_the_optimum_and_leaves_the_objective_alone(
    monkeypatch, n_classes,
):
    import torchlogit.core.objective as objective_module

    monkeypatch.setattr(objective_module, "_HESSIAN_BLOCK_ROWS", 16)
    objective, expected, f_expected = _problem(n_classes, True, True)
    before = dict(vars(objective))
    result = newton(objective, objective.zeros(), tol=1e-11, hessian_rows=60)  # every 4th block
    assert result.converged
    _assert_at_optimum(objective, result, expected, f_expected, atol=1e-9, rel=1e-13)
    after = vars(objective)
    moved = {key for key in before if after[key] is not before[key]}
    assert moved == {"n_passes", "last_coef"} and after.keys() == before.keys()


def test_mixed_precision_newton_reaches_the_float64_optimum():
    objective, expected, f_expected = _problem(3, True, True)
    X, y, w = next(iter(objective.source.chunks()))
    low = Objective(InMemorySource(X.float(), y, w.float()), n_outputs=3, fit_intercept=True,
                    l2=L2Penalty(objective.l2.strength.float()), dtype=torch.float32, device="cpu")
    passes_before = objective.n_passes
    result = newton(objective, objective.zeros(), tol=1e-11, hessian_objective=low)
    assert result.converged and result.coef.dtype == torch.float64
    assert low.n_passes > 0 and result.n_passes == objective.n_passes - passes_before + low.n_passes
    # the float32 phase leaves the intercepts centred to float32 rounding only (F does not change
    # along that shift): compare them centred
    intercepts = result.coef[:, -1]
    assert abs(float(intercepts.sum())) <= 1e-6
    result.coef[:, -1] -= intercepts.mean()
    _assert_at_optimum(objective, result, expected, f_expected, atol=1e-9, rel=1e-13)


@pytest.mark.parametrize(("n_classes", "fit_intercept", "weighted"), CASES)
def test_lbfgs_reaches_the_sklearn_optimum(n_classes, fit_intercept, weighted):
    objective, expected, f_expected = _problem(n_classes, fit_intercept, weighted)
    result = lbfgs(objective, objective.zeros(), tol=1e-9, max_iter=500)
    assert result.converged
    assert result.n_passes == len(result.history)  # one per evaluation
    _assert_at_optimum(objective, result, expected, f_expected, atol=1e-7, rel=1e-12)


@pytest.mark.parametrize(("n_classes", "fit_intercept", "weighted"), CASES)
def test_full_batch_sgd_reaches_the_sklearn_optimum(n_classes, fit_intercept, weighted):
    """Full-batch SGD is gradient descent on F: linear convergence, to a looser tolerance."""
    objective, expected, f_expected = _problem(n_classes, fit_intercept, weighted)
    options = StochasticOptions(learning_rate=1.0, generator=torch.Generator().manual_seed(0))
    result = stochastic(objective, objective.zeros(), options, tol=1e-7, max_iter=20_000)
    assert result.converged and result.n_iter == len(result.history) - 1
    _assert_at_optimum(objective, result, expected, f_expected, atol=1e-5, rel=1e-9)


@pytest.mark.parametrize(("optimizer", "learning_rate"), [("sgd", 0.2), ("adam", 0.02)])
def test_mini_batch_steps_get_near_the_sklearn_optimum(optimizer, learning_rate):
    """With a constant step size mini-batches hover near the optimum rather than reach it."""
    objective, expected, f_expected = _problem(3, True, True)
    options = StochasticOptions(optimizer=optimizer, learning_rate=learning_rate, batch_size=16,
                                generator=torch.Generator().manual_seed(1))
    result = stochastic(objective, objective.zeros(), options, tol=1e-8, max_iter=150)
    np.testing.assert_allclose(result.coef.numpy(), expected.numpy(), rtol=0, atol=0.1)
    assert f_expected <= result.objective <= f_expected * (1 + 1e-3)
    assert result.history[-1]["objective"] < result.history[0]["objective"]


def test_stochastic_options_are_checked():
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        StochasticOptions(learning_rate=0.0)
    with pytest.raises(ValueError, match="batch_size must be"):
        StochasticOptions(batch_size=0)
    objective, _, _ = _problem(2, True, False)
    with pytest.raises(ValueError, match="optimizer must be"):
        stochastic(objective, objective.zeros(), StochasticOptions(optimizer="rmsprop"))
