"""Per-chunk loss, gradient and Hessian against autograd and closed forms."""

import numpy as np
import pytest
import torch
from support.synthetic import make_classification_data

from torchlogit.core.loss import chunk_sums, logits_loss


def _inputs(n_classes, fit_intercept, seed=0):
    X, y, sw = make_classification_data(n=50, d=3, n_classes=n_classes, seed=seed, weights=True)
    n_out = 1 if n_classes == 2 else n_classes
    gen = torch.Generator().manual_seed(seed)
    coef = torch.randn(n_out, 3 + int(fit_intercept), generator=gen, dtype=torch.float64)
    return torch.tensor(X), torch.tensor(y), torch.tensor(sw), coef


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gradient_and_hessian_match_autograd(n_classes, fit_intercept):
    X, y, w, coef = _inputs(n_classes, fit_intercept)

    def loss_of(c):
        return chunk_sums(X, y, w, c, fit_intercept, need_grad=False).loss

    sums = chunk_sums(X, y, w, coef, fit_intercept, need_hess=True)
    auto_grad = torch.autograd.functional.jacobian(loss_of, coef)
    auto_hess = torch.autograd.functional.hessian(loss_of, coef)
    torch.testing.assert_close(sums.grad, auto_grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(sums.hess, auto_hess.reshape(sums.hess.shape), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("one_product", [True, False])
@pytest.mark.parametrize("n_classes", [3, 5])
def test_multinomial_hessian_from_pair_grams_matches_autograd(n_classes, one_product, fit_intercept,
                                                              monkeypatch):
    """The multinomial Hessian is assembled from the Grams of the class pairs k < l, in one product
    for small X and pair by pair otherwise; either way it is autograd's, including probabilities
    near one (a class with large scores). The cached pair tables were made in inference mode, as
    fits make them, and still serve a pass that autograd differentiates."""
    import torchlogit.core.loss as loss_module

    if not one_product:
        monkeypatch.setattr(loss_module, "_ONE_PRODUCT_VALUES", 0)
    monkeypatch.setattr(loss_module, "_CLASS_PAIRS", {})
    X, y, w, coef = _inputs(n_classes, fit_intercept, seed=3)
    coef[0, -1] = 12.0  # class 0 takes most rows with probability ~1 - 1e-5
    with torch.inference_mode():
        chunk_sums(X, y, w, coef, fit_intercept, need_hess=True)

    def loss_of(c):
        return chunk_sums(X, y, w, c, fit_intercept, need_grad=False).loss

    sums = chunk_sums(X, y, w, coef.requires_grad_(), fit_intercept, need_hess=True)
    auto_hess = torch.autograd.functional.hessian(loss_of, coef.detach()).reshape(sums.hess.shape)
    torch.testing.assert_close(sums.hess.detach(), auto_hess, rtol=1e-11, atol=1e-12)


def test_binomial_loss_matches_closed_form_and_is_stable():
    z = torch.tensor([[-800.0], [-3.0], [0.0], [2.0], [800.0]], dtype=torch.float64)
    y = torch.tensor([1, 0, 1, 1, 0])
    w = torch.ones(5, dtype=torch.float64)
    z_np, y_np = z[:, 0].numpy(), y.numpy()
    per_row = np.where(y_np == 1, np.logaddexp(0, -z_np), np.logaddexp(0, z_np))
    assert float(logits_loss(z, y, w)) == pytest.approx(sum(per_row), rel=1e-14)
    assert np.isfinite(float(logits_loss(z, y, w)))


def test_multinomial_loss_matches_closed_form_and_is_stable():
    scores = torch.tensor([[1000.0, 0.0, -1000.0], [0.1, 0.2, 0.3]], dtype=torch.float64)
    y = torch.tensor([2, 0])
    w = torch.tensor([1.0, 2.0], dtype=torch.float64)
    expected = 2000.0 + 2.0 * (np.log(np.exp([0.1, 0.2, 0.3]).sum()) - 0.1)
    assert float(logits_loss(scores, y, w)) == pytest.approx(expected, rel=1e-13)


def test_multinomial_with_two_columns_equals_binomial():
    """Softmax over (0, z) is the sigmoid of z: the two formulas must agree."""
    X, y, w, coef = _inputs(2, True)
    binomial = chunk_sums(X, y, w, coef, True)
    two_rows = torch.cat([torch.zeros_like(coef), coef])
    multinomial = chunk_sums(X, y, w, two_rows, True)
    torch.testing.assert_close(binomial.loss, multinomial.loss)
    torch.testing.assert_close(binomial.grad[0], multinomial.grad[1])
