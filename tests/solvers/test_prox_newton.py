"""Proximal Newton: the same optimum as scikit-learn (saga, liblinear) and glum, KKT conditions."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from support.synthetic import make_classification_data

from torchlogit.core.loss import logits_loss
from torchlogit.core.objective import Objective
from torchlogit.core.penalties import elastic_net
from torchlogit.data import InMemorySource
from torchlogit.solvers import newton, prox_newton


def _problem(X, y, sw, C, l1_ratio, fit_intercept=True, chunk_rows=None, factor=None):
    n, d = X.shape
    n_classes = len(np.unique(y))
    w = np.ones(n) if sw is None else sw
    source = InMemorySource(torch.tensor(X), torch.tensor(y), torch.tensor(w), chunk_rows=chunk_rows)
    l2, l1 = elastic_net(1.0 / (C * w.sum()), l1_ratio, d, fit_intercept, factor,
                         dtype=torch.float64, device="cpu")
    objective = Objective(source, n_outputs=1 if n_classes == 2 else n_classes,
                          fit_intercept=fit_intercept, l2=l2, dtype=torch.float64, device="cpu")
    return objective, l1


def _full_objective(objective, l1, theta):
    theta = torch.as_tensor(theta, dtype=torch.float64)
    return objective.value(theta) + (0.0 if l1 is None else float(l1.value(theta)))


def _sklearn(X, y, sw, C, l1_ratio, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FutureWarnings of sklearn 1.8+, ConvergenceWarning of saga
        est = SkLogisticRegression(C=C, l1_ratio=l1_ratio, tol=1e-13, max_iter=200_000, **kwargs)
        est.fit(X, y, sample_weight=sw)
    if not est.fit_intercept:
        return est.coef_
    return np.hstack([est.coef_, est.intercept_[:, None]])


def _assert_same_optimum(objective, l1, ours, theirs):
    """Objective within 1e-7 relative, same support, coefficients within 1e-4."""
    f_ours, f_theirs = _full_objective(objective, l1, ours), _full_objective(objective, l1, theirs)
    assert f_ours <= f_theirs + 1e-7 * abs(f_theirs)
    assert abs(f_ours - f_theirs) <= 1e-7 * abs(f_theirs)
    np.testing.assert_array_equal(ours != 0, theirs != 0)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


@pytest.mark.parametrize(
    ("n_classes", "l1_ratio", "weights"),
    [(2, 1.0, False), (2, 0.5, True), (3, 1.0, True), (3, 0.3, False)],
)
def test_matches_sklearn_saga(n_classes, l1_ratio, weights):
    X, y, sw = make_classification_data(n=300, d=8, n_classes=n_classes, seed=11, weights=weights)
    C = 0.05
    objective, l1 = _problem(X, y, sw, C, l1_ratio)
    res = prox_newton(objective, objective.zeros(), l1=l1, tol=1e-10)
    assert res.converged and res.grad_max <= 1e-10
    coef = res.coef.numpy()
    assert 0 < (coef[:, :-1] == 0).sum() < coef[:, :-1].size  # a genuinely sparse problem
    _assert_same_optimum(objective, l1, coef, _sklearn(X, y, sw, C, l1_ratio, solver="saga"))
    if n_classes > 2:  # the free intercept direction ends centred, as scikit-learn's
        assert abs(coef[:, -1].sum()) < 1e-12


def test_matches_sklearn_liblinear_binary_l1():
    # liblinear penalises its intercept, so compare without one
    X, y, _ = make_classification_data(n=300, d=8, seed=12)
    C = 0.03
    objective, l1 = _problem(X, y, None, C, 1.0, fit_intercept=False)
    res = prox_newton(objective, objective.zeros(), l1=l1, tol=1e-10)
    theirs = _sklearn(X, y, None, C, 1.0, solver="liblinear", fit_intercept=False)
    _assert_same_optimum(objective, l1, res.coef.numpy(), theirs)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_matches_glum_binomial(l1_ratio):
    glum = pytest.importorskip("glum")
    X, y, sw = make_classification_data(n=400, d=8, seed=13, weights=True)
    C = 0.02
    objective, l1 = _problem(X, y, sw, C, l1_ratio)
    res = prox_newton(objective, objective.zeros(), l1=l1, tol=1e-10)
    model = glum.GeneralizedLinearRegressor(
        family="binomial", alpha=1.0 / (C * sw.sum()), l1_ratio=l1_ratio, gradient_tol=1e-12,
    ).fit(X, y, sample_weight=sw)
    theirs = np.r_[model.coef_, model.intercept_][None, :]
    _assert_same_optimum(objective, l1, res.coef.numpy(), theirs)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_kkt_conditions_hold_at_the_optimum(n_classes):
    X, y, sw = make_classification_data(n=250, d=6, n_classes=n_classes, seed=14, weights=True)
    C, l1_ratio = 0.05, 0.8
    objective, l1 = _problem(X, y, sw, C, l1_ratio)
    res = prox_newton(objective, objective.zeros(), l1=l1, tol=1e-10)
    # gradient of the smooth part by autograd, independent of the analytic gradient
    theta = res.coef.clone().requires_grad_(True)
    scores = torch.tensor(X) @ theta[:, :-1].T + theta[:, -1]
    if n_classes == 2:
        scores = scores[:, :1]
    w = torch.tensor(sw)
    smooth = logits_loss(scores, torch.tensor(y, dtype=torch.int64 if n_classes > 2 else torch.float64), w)
    smooth = smooth / w.sum() + objective.l2.value(theta)
    (grad,) = torch.autograd.grad(smooth, theta)
    lam = l1.strength.expand_as(grad)
    coef = res.coef
    nonzero = coef != 0
    assert bool(nonzero.any()) and not bool(nonzero[:, :-1].all())
    stationary = (grad + lam * torch.sign(coef))[nonzero]
    assert float(stationary.abs().max()) <= 1e-9
    assert bool((grad[~nonzero].abs() <= lam[~nonzero] + 1e-9).all())
    assert float(l1.min_norm_subgradient(coef, grad).abs().max()) <= 1e-9


def test_penalty_factor_zero_leaves_a_feature_unpenalised():
    X, y, _ = make_classification_data(n=300, d=6, seed=15)
    factor = torch.tensor([0.0, 1, 1, 1, 1, 1])
    objective, l1 = _problem(X, y, None, 0.002, 1.0, factor=factor)
    res = prox_newton(objective, objective.zeros(), l1=l1, tol=1e-10)
    _, grad = objective.value_grad(res.coef)
    assert res.coef[0, 0] != 0 and abs(float(grad[0, 0])) <= 1e-10
    assert bool((res.coef[0, 1:-1] == 0).all())  # so strong a penalty zeroes every other feature


def test_chunked_source_gives_the_same_optimum():
    X, y, _ = make_classification_data(n=300, d=6, n_classes=3, seed=16)
    whole, l1 = _problem(X, y, None, 0.05, 1.0)
    chunked, _ = _problem(X, y, None, 0.05, 1.0, chunk_rows=64)
    a = prox_newton(whole, whole.zeros(), l1=l1, tol=1e-10).coef
    b = prox_newton(chunked, chunked.zeros(), l1=l1, tol=1e-10).coef
    torch.testing.assert_close(a, b, rtol=0, atol=1e-8)


def test_without_l1_it_reaches_the_newton_optimum():
    X, y, _ = make_classification_data(n=200, d=5, seed=17)
    objective, l1 = _problem(X, y, None, 1.0, 0.0)
    assert l1 is None
    a = prox_newton(objective, objective.zeros(), tol=1e-10)
    b = newton(objective, objective.zeros(), tol=1e-10)
    torch.testing.assert_close(a.coef, b.coef, rtol=0, atol=1e-9)


def test_warm_start_and_working_set_guess():
    X, y, _ = make_classification_data(n=300, d=8, seed=18)
    objective, l1 = _problem(X, y, None, 0.05, 1.0)
    cold = prox_newton(objective, objective.zeros(), l1=l1, tol=1e-10)
    warm = prox_newton(objective, cold.coef, l1=l1, tol=1e-10, working_set=cold.coef != 0)
    assert warm.n_iter == 0 and warm.n_passes == 1
    torch.testing.assert_close(warm.coef, cold.coef)


@pytest.mark.parametrize(("n_classes", "fit_intercept"), [(2, True), (2, False), (3, True)])
def test_hessian_block_is_the_block_of_the_full_hessian(n_classes, fit_intercept):
    X, y, sw = make_classification_data(n=120, d=5, n_classes=n_classes, seed=19, weights=True)
    objective, _ = _problem(X, y, sw, 1.0, 0.0, fit_intercept=fit_intercept)
    coef = torch.randn(objective.coef_shape, dtype=torch.float64) * 0.3
    _, _, full = objective.value_grad_hess(coef)
    n_params = full.shape[0]
    index = torch.tensor(sorted(np.random.default_rng(0).choice(n_params, n_params // 2, replace=False)))
    index = torch.cat([index[1:], index[:1]])  # any order, not only sorted
    _, _, block = objective.value_grad_hess(coef, index)
    torch.testing.assert_close(block, full[index][:, index], rtol=1e-12, atol=1e-14)


def test_multinomial_column_shift_is_resolved_exactly():
    # 3 classes, all non-zero in one column: the loss is flat along shifting that column in every
    # class while the L1 term is not, so the optimum needs a coordinated move that single
    # coordinates cannot make (this data stalled a pure coordinate-descent inner solver)
    from sklearn.datasets import make_blobs

    X, y = make_blobs(random_state=0, n_samples=21)
    X, y = X[:14], y[:14]
    C = 1.69191
    objective, l1 = _problem(X, y, None, C, 1.0)
    res = prox_newton(objective, objective.zeros(), l1=l1, tol=1e-10)
    assert res.converged and res.grad_max <= 1e-10
    _assert_same_optimum(objective, l1, res.coef.numpy(), _sklearn(X, y, None, C, 1.0, solver="saga"))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_working_sets_reach_the_full_optimum(n_classes):
    from torchlogit.solvers.working_set import PathHint, working_set_prox_newton

    X, y, sw = make_classification_data(n=300, d=400, n_classes=n_classes, seed=51, weights=True)
    objective, l1 = _problem(X, y, sw, 0.015, 0.7)
    full = prox_newton(objective, objective.zeros(), l1=l1, tol=1e-10)
    hint = PathHint()
    # no hint: the first pass ranks the violators, the worst 100 form the first working set
    narrow = working_set_prox_newton(objective, objective.zeros(), l1=l1, tol=1e-10, hint=hint)
    cache = hint.cache
    assert narrow.converged and narrow.grad_max <= 1e-10
    torch.testing.assert_close(narrow.coef, full.coef, rtol=0, atol=1e-8)
    assert 0 < len(cache.features) < 400  # solved on a narrow copy, not the fallback
    assert cache.objective.l2 is None  # the cached copy is not changed: each fit uses with_l2
    # a second, weaker penalty on the same cache (as along a path) also lands on the optimum
    objective2, l1_weak = _problem(X, y, sw, 0.03, 0.7)
    again = working_set_prox_newton(objective2, narrow.coef, l1=l1_weak, tol=1e-10,
                                    hint=PathHint(grad=narrow.grad))
    reference = prox_newton(objective2, objective2.zeros(), l1=l1_weak, tol=1e-10)
    torch.testing.assert_close(again.coef, reference.coef, rtol=0, atol=1e-8)


def test_a_grown_working_set_reindexes_its_hessian_block():
    """A copy of columns [2, 5] grows to [2, 5, 1] (new columns are appended): the features keep
    their places and the intercept, after them, moves. Without an intercept the positions stay
    integers (floats gave an IndexError in the next solve, found by bench_sparse.py)."""
    from torchlogit.solvers.working_set import _remap

    H = np.arange(4.0).reshape(2, 2)  # over the narrow coefficients of columns 2 and 5 (one output)
    index, same = _remap((np.arange(2), H), 2, 3, [])
    assert index.dtype.kind == "i" and same is H
    np.testing.assert_array_equal(index, [0, 1])
    # with an intercept: the block over (column 2, intercept), positions 0 and 2 of 3, two outputs
    index, _ = _remap((np.array([0, 2, 3, 5]), H), 2, 3, [6])
    np.testing.assert_array_equal(index, [0, 3, 4, 7])  # rows of 4 now: intercept at position 3


def test_working_sets_fall_back_for_sources_without_columns():
    from torchlogit.data import as_data_source
    from torchlogit.solvers.working_set import working_set_prox_newton

    class Streamed:  # a user's duck-typed source: yields chunks, hands out no columns
        def __init__(self, inner):
            self.inner, self.n_features = inner, inner.n_features

        def chunks(self):
            return self.inner.chunks()

    X, y, _ = make_classification_data(n=200, d=6, seed=52)
    objective, l1 = _problem(X, y, None, 0.05, 1.0)
    streamed = Objective(as_data_source(Streamed(objective.source)), n_outputs=1, fit_intercept=True,
                         l2=objective.l2, dtype=torch.float64, device="cpu")
    res = working_set_prox_newton(streamed, streamed.zeros(), l1=l1, tol=1e-10)
    ref = prox_newton(objective, objective.zeros(), l1=l1, tol=1e-10)
    torch.testing.assert_close(res.coef, ref.coef, rtol=0, atol=1e-9)


def _numpy_kkt(X, y, coef, lam):
    """The largest KKT violation of ``mean log-loss + lam·‖w‖₁`` (intercept last, unpenalised), in numpy."""
    z = X @ coef[:-1] + coef[-1]
    r = (1.0 / (1.0 + np.exp(-z)) - y) / len(y)
    grad = np.r_[X.T @ r, r.sum()]
    w = coef[:-1]
    at_zero = np.maximum(np.abs(grad[:-1]) - lam, 0.0)
    sub = np.where(w != 0, np.abs(grad[:-1] + lam * np.sign(w)), at_zero)
    return max(sub.max(), abs(grad[-1]))


@pytest.mark.parametrize("rare_feature", [False, True])
def test_costly_blocks_from_sampled_rows_reach_the_optimum(rare_feature, monkeypatch):
    """A Hessian block over 140,000 rows × 60 columns is costly: it is formed from sampled blocks of
    rows, and the answer is still the optimum (KKT checked in numpy). A feature that is non-zero
    only in rows the sample skips (rows 16,384-32,767, the second block of rows) leaves the sampled
    block blind to it; the solver then goes back to every row and still converges."""
    rng = np.random.default_rng(61)
    n, d = 140_000, 60
    X = rng.standard_normal((n, d)) * 0.5
    if rare_feature:
        X[:, 0] = 0.0
        X[16_384:32_768, 0] = rng.standard_normal(16_384) * 3
    true = rng.normal(0.0, 0.3, d)
    true[0] = 2.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ true)))).astype(np.int64)
    objective, l1 = _problem(X, y, None, C=0.05, l1_ratio=1.0)
    strides = []
    formed = Objective.value_grad_hess

    def recording(self, coef, hess_index=None, *, hessian_stride=1):
        strides.append(hessian_stride)
        return formed(self, coef, hess_index, hessian_stride=hessian_stride)

    monkeypatch.setattr(Objective, "value_grad_hess", recording)
    res = prox_newton(objective, objective.zeros(), l1=l1, tol=1e-9)
    assert res.converged
    assert max(strides) > 1, strides  # some blocks were sampled
    lam = 1.0 / (0.05 * n)
    assert _numpy_kkt(X, y, res.coef.numpy()[0], lam) <= 1e-9
    assert res.coef[0, 0] != 0  # the rare feature is in the model
    assert (strides[-1] == 1) == rare_feature, strides  # blind to the rare feature: back to every row


def test_the_last_step_is_taken_where_f_only_moves_by_its_summation_rounding():
    """At C = C_min (every feature zero) only the intercept moves. Its last Newton step of 3e-9
    changes F by 1e-17 while F's sum over 100,000 rows, one thread, moves by more than 16 eps·F
    between the two points; the step zeroes the gradient, so it is taken (F within √n·16 eps).
    With the plain 16 eps band the solver repeated the step at max_iter and stopped at an
    intercept gradient of 1e-9 (found by benchmarks/bench_sparse.py's dense path at tol 1e-11)."""
    from torchlogit import LogisticRegression

    rng = np.random.default_rng(0)
    n = 100_000
    X = rng.standard_normal((n, 2))
    X = (X - X.mean(0)) / X.std(0)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 * X[:, 0] + 0.17)))).astype(np.int64)
    lam_max = float(np.abs(X.T @ (y - y.mean())).max() / n)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = LogisticRegression(l1_ratio=1.0, C=1 / (n * lam_max), tol=1e-11, max_iter=30).fit(X, y)
    finally:
        torch.set_num_threads(threads)
    assert model.n_iter_[0] < 30
    p = 1 / (1 + np.exp(-(X @ model.coef_[0] + model.intercept_[0])))
    assert abs(np.mean(p - y)) <= 1e-11  # the intercept's gradient, in numpy
    assert np.abs(model.coef_).max() <= 1e-12  # at C_min the features stay (next to) zero
