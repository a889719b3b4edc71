"""Preconditioning coordinates: their gradients are F's, by the chain rule, as autograd has them."""

import numpy as np
import pytest
import torch
from support.synthetic import make_classification_data

from torchlogit.core.coordinates import StandardisedCoordinates, WhitenedCoordinates, precondition
from torchlogit.core.loss import linear_predictor, logits_loss
from torchlogit.core.objective import Objective
from torchlogit.core.penalties import L2Penalty, column_strengths
from torchlogit.data import InMemorySource

CASES = [(2, True), (2, False), (3, True), (3, False)]  # (n_classes, fit_intercept)


def _objective(n_classes, fit_intercept, d=4):
    X, y, w = make_classification_data(n=150, d=d, n_classes=n_classes, seed=2, weights=True)
    X = X * np.linspace(0.1, 10.0, d) + np.linspace(-3.0, 5.0, d)  # uncentred and badly scaled columns
    strength = column_strengths(0.05, d, fit_intercept, None, dtype=torch.float64, device="cpu")
    source = InMemorySource(torch.tensor(X), torch.tensor(y), torch.tensor(w), chunk_rows=64)
    objective = Objective(source, n_outputs=1 if n_classes == 2 else n_classes, fit_intercept=fit_intercept,
                          l2=L2Penalty(strength), dtype=torch.float64, device="cpu")
    return objective, (torch.tensor(X), torch.tensor(y), torch.tensor(w))


def _autograd_f(objective, data, coef):
    """F written with differentiable torch operations, independently of the analytic sums."""
    X, y, w = data
    scores = linear_predictor(X, coef, objective.fit_intercept)
    return logits_loss(scores, y, w) / w.sum() + objective.l2.value(coef)


def _coordinates(kind, objective):
    if kind == "standardised":
        return StandardisedCoordinates(objective)
    coords = precondition(objective)
    assert isinstance(coords, WhitenedCoordinates)  # narrow problems are whitened
    return coords


@pytest.mark.parametrize("kind", ["standardised", "whitened"])
@pytest.mark.parametrize(("n_classes", "fit_intercept"), CASES)
def test_value_grad_matches_autograd_through_to_original(kind, n_classes, fit_intercept):
    objective, data = _objective(n_classes, fit_intercept)
    coords = _coordinates(kind, objective)
    point = torch.randn(objective.coef_shape, dtype=torch.float64).requires_grad_(True)
    coef = coords.to_original(point)
    f_autograd = _autograd_f(objective, data, coef)
    grad_point, grad_coef = torch.autograd.grad(f_autograd, [point, coef])
    f, grad_transformed, grad_original = coords.value_grad(point.detach())
    assert f == pytest.approx(float(f_autograd.detach()), rel=1e-13)
    torch.testing.assert_close(grad_transformed, grad_point, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grad_original, grad_coef, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(grad_transformed, grad_original)  # the coordinates do change something


@pytest.mark.parametrize("kind", ["standardised", "whitened"])
@pytest.mark.parametrize(("n_classes", "fit_intercept"), CASES)
def test_to_standardised_inverts_to_original(kind, n_classes, fit_intercept):
    objective, _ = _objective(n_classes, fit_intercept)
    coords = _coordinates(kind, objective)
    coef = torch.randn(objective.coef_shape, dtype=torch.float64)
    torch.testing.assert_close(coords.to_original(coords.to_standardised(coef)), coef, rtol=1e-12, atol=1e-12)


def test_whitened_hessian_at_zero_is_the_identity_for_the_binomial_model():
    """At zero every row's curvature is 1/4, so ``P = ¼X̃ᵀSX̃/ΣS + diag(λ)`` is the Hessian exactly."""
    objective, _ = _objective(2, True)
    coords = _coordinates("whitened", objective)
    _, _, hess = objective.value_grad_hess(objective.zeros())
    factor_inv = torch.linalg.inv(coords.factor)
    whitened = factor_inv @ hess @ factor_inv.T
    torch.testing.assert_close(whitened, torch.eye(hess.shape[0], dtype=torch.float64), rtol=0, atol=1e-10)


def test_standardised_columns_have_unit_scale_and_no_intercept_coupling():
    """At zero with an intercept, the standardised Hessian has ¼ on the features' diagonal, ridge
    included (the scale is sqrt(σ² + 4λ), the square root of the original diagonal), and centring
    decouples the intercept from the features."""
    objective, data = _objective(2, True)
    coords = StandardisedCoordinates(objective)
    point = torch.zeros(objective.coef_shape, dtype=torch.float64, requires_grad=True)
    hess = torch.autograd.functional.hessian(
        lambda p: _autograd_f(objective, data, coords.to_original(p.reshape(objective.coef_shape))),
        point.reshape(-1),
    )
    d = objective.coef_shape[1] - 1
    assert bool((objective.l2.strength[:d] > 0).all())  # the ridge is part of the diagonal checked
    torch.testing.assert_close(torch.diagonal(hess)[:d], torch.full((d,), 0.25, dtype=torch.float64))
    torch.testing.assert_close(hess[:d, d], torch.zeros(d, dtype=torch.float64), rtol=0, atol=1e-12)
