"""Hostile sparse input (issue 14, "Bad input"), and sparse fits equal to dense ones for every solver.

Every scipy sparse format (matrices and the newer arrays), torch sparse tensors, 64-bit indices,
explicit stored zeros, unsorted and duplicate entries, NaN and inf among the stored values, a
column with no stored value and an all-zero matrix go through ``fit``, the prediction methods
and ``LogisticRegressionCV``. The references are independent: scikit-learn 1.9's estimators on
the same input (its newton-cholesky for L2, saga for L1, at tight tolerances), closed forms in
numpy / scipy.special for predictions and for the all-zero matrix, and the dense rows fitted by
the same solver (a different code path: no sparse product is involved).
"""

import warnings
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.special import expit, log_softmax, softmax
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV
from sklearn.metrics import accuracy_score

from torchlogit import LogisticRegression, LogisticRegressionCV
from torchlogit.core.objective import Objective
from torchlogit.data import SparseRowsSource

N_ROWS, N_FEATURES, DENSITY, EMPTY = 300, 40, 0.15, 7  # EMPTY: the column left without values


@cache
def _rows(n_classes: int = 2, seed: int = 0):
    """A canonical CSR matrix (int32, sorted, no duplicates), labels drawn from the model, weights."""
    rng = np.random.default_rng(seed)
    X = sp.random(N_ROWS, N_FEATURES, density=DENSITY, format="csr", random_state=seed)
    X.data = rng.normal(size=X.nnz) * 2.0
    scores = X @ rng.normal(size=(n_classes, N_FEATURES)).T
    P = softmax(scores, axis=1)
    y = np.array([rng.choice(n_classes, p=p) for p in P])
    return X, y, rng.uniform(0.2, 3.0, size=N_ROWS)


# ------------------------------------------------------------------ the same matrix, stored oddly
def _int64(X):
    X = X.copy()
    X.indices, X.indptr = X.indices.astype(np.int64), X.indptr.astype(np.int64)
    assert X.indices.dtype == X.indptr.dtype == np.int64
    return X


def _explicit_zeros(X):
    """200 more stored entries, all 0.0, at positions that held nothing."""
    rng = np.random.default_rng(1)
    coo, dense = X.tocoo(), X.toarray()
    rows, cols = np.nonzero(dense == 0)
    pick = rng.choice(rows.size, 200, replace=False)
    at = (np.r_[coo.row, rows[pick]], np.r_[coo.col, cols[pick]])
    Z = sp.csr_matrix((np.r_[coo.data, np.zeros(200)], at), shape=X.shape)
    assert Z.nnz == X.nnz + 200 and (Z.data == 0).sum() == 200
    return Z


def _unsorted(X):
    """Every row's entries in reverse column order."""
    pieces = [slice(X.indptr[i], X.indptr[i + 1]) for i in range(X.shape[0])]
    indices = np.concatenate([X.indices[s][::-1] for s in pieces])
    data = np.concatenate([X.data[s][::-1] for s in pieces])
    U = sp.csr_matrix((data, indices, X.indptr.copy()), shape=X.shape)
    assert not U.has_sorted_indices
    return U


def _duplicates(X):
    """Every entry stored twice, as 0.3 and 0.7 of its value (scipy's products sum them)."""
    counts = np.diff(X.indptr)
    rows = np.repeat(np.arange(X.shape[0]), counts)
    order = np.argsort(np.r_[rows, rows], kind="stable")
    indices = np.r_[X.indices, X.indices][order]
    data = np.r_[0.3 * X.data, 0.7 * X.data][order]
    D = sp.csr_matrix((data, indices, np.r_[0, np.cumsum(2 * counts)]), shape=X.shape)
    assert not D.has_canonical_format and D.nnz == 2 * X.nnz
    return D


def _torch_csr(X):
    with warnings.catch_warnings():  # torch calls its CSR support beta
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(torch.from_numpy(X.indptr.astype(np.int64)),
                                       torch.from_numpy(X.indices.astype(np.int64)), torch.from_numpy(X.data),
                                       size=X.shape, check_invariants=True)


def _torch_coo(X):
    coo = X.tocoo()
    return torch.sparse_coo_tensor(np.vstack([coo.row, coo.col]), coo.data, size=X.shape,
                                   check_invariants=True)


SAME_MATRIX = {
    "int64-indices": _int64, "explicit-zeros": _explicit_zeros, "unsorted": _unsorted,
    "duplicates": _duplicates, "coo": sp.coo_matrix, "csc": sp.csc_matrix, "lil": sp.lil_matrix,
    "dok": sp.dok_matrix, "bsr": lambda X: sp.bsr_matrix(X, blocksize=(2, 2)), "csr_array": sp.csr_array,
    "coo_array": sp.coo_array, "torch-csr": _torch_csr, "torch-coo": _torch_coo,
}


def _for_sklearn(X_hostile, X):
    """What scikit-learn is given: the hostile input itself, or the scipy matrix a torch tensor holds."""
    return X if isinstance(X_hostile, torch.Tensor) else X_hostile


def _arrays(X):
    """Copies of the stored arrays of a scipy matrix (those held in numeric arrays) or a torch tensor,
    to show that a fit leaves them alone."""
    if isinstance(X, torch.Tensor):
        parts = (X.crow_indices(), X.col_indices(), X.values()) if X.layout == torch.sparse_csr \
            else (X._indices(), X._values())
        return [p.numpy().copy() for p in parts]
    parts = [getattr(X, name, None) for name in ("data", "indices", "indptr", "row", "col")]
    return [p.copy() for p in parts if isinstance(p, np.ndarray) and p.dtype != object]


# L-BFGS, unlike Newton, stops where F's rounding no longer certifies a decrease: max |gradient| about
# 1e-9 at tol=1e-12 (solvers/_result.py, rounding_floor), so its coefficients are 1e-8..1e-7 from the optimum
_LBFGS_ATOL = 1e-6


def _assert_fit_equal(ours, reference, atol):
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=0, atol=atol)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=0, atol=atol)


@cache
def _sklearn_l1(n_classes=2):
    """scikit-learn's saga L1 optimum of the canonical matrix (saga refuses 64-bit indices; the
    other storages hold the same matrix, so one reference serves them all)."""
    X, y, _ = _rows(n_classes)
    return SkLogisticRegression(solver="saga", l1_ratio=1.0, tol=1e-12, max_iter=100_000).fit(X, y)


@cache
def _sklearn_l2(n_classes=2):
    """scikit-learn's default fit of the canonical matrix (to compare refusals with)."""
    X, y, _ = _rows(n_classes)
    return SkLogisticRegression().fit(X, y)


@pytest.mark.parametrize("name", SAME_MATRIX)
def test_every_storage_of_one_matrix_fits_as_sklearn_on_the_same_input(name):
    X, y, w = _rows()
    hostile = SAME_MATRIX[name](X)
    before = _arrays(hostile)
    ours = LogisticRegression(tol=1e-12).fit(hostile, y, sample_weight=w)
    reference = SkLogisticRegression(solver="newton-cholesky", tol=1e-12).fit(_for_sklearn(hostile, X), y,
                                                                               sample_weight=w)
    _assert_fit_equal(ours, reference, atol=1e-8)
    for a, b in zip(_arrays(hostile), before, strict=True):  # sorting and summing happen in a copy
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["duplicates", "unsorted", "explicit-zeros", "int64-indices"])
def test_column_moments_of_oddly_stored_rows_are_numpys(name):
    """The preconditioner's column moments square the stored values: duplicates must be summed
    first ((0.3a)² + (0.7a)² is not a²), which the source does in a copy."""
    X, y, w = _rows()
    hostile = SAME_MATRIX[name](X)
    source = SparseRowsSource(hostile, y, w, chunk_rows=64, dtype=torch.float64, device=torch.device("cpu"))
    objective = Objective(source, n_outputs=1, fit_intercept=True, l2=None, dtype=torch.float64, device="cpu")
    mean, std = objective.column_moments()
    dense = X.toarray()
    expected_mean = np.average(dense, axis=0, weights=w)
    np.testing.assert_allclose(mean.numpy(), expected_mean, rtol=1e-12, atol=1e-14)
    expected_std = np.sqrt(np.average((dense - expected_mean) ** 2, axis=0, weights=w))
    np.testing.assert_allclose(std.numpy(), expected_std, rtol=1e-10, atol=1e-13)
    assert source.X.has_canonical_format


@pytest.mark.parametrize("name", ["int64-indices", "unsorted", "duplicates", "coo", "torch-csr"])
@pytest.mark.parametrize(("solver", "l1_ratio"), [("lbfgs", None), ("newton", None), ("prox_newton", 1.0)])
def test_hostile_storage_through_each_solver(name, solver, l1_ratio):
    X, y, _ = _rows()
    hostile = SAME_MATRIX[name](X)
    kwargs = {} if l1_ratio is None else {"l1_ratio": l1_ratio}
    ours = LogisticRegression(solver=solver, tol=1e-12, max_iter=1000, **kwargs).fit(hostile, y)
    if l1_ratio is None:
        reference = SkLogisticRegression(solver="newton-cholesky", tol=1e-12).fit(_for_sklearn(hostile, X), y)
        _assert_fit_equal(ours, reference, atol=_LBFGS_ATOL if solver == "lbfgs" else 1e-8)
    else:
        _assert_fit_equal(ours, _sklearn_l1(), atol=1e-6)


def test_sklearn_saga_refuses_int64_indices_and_ours_fits_them():
    """scikit-learn's saga/liblinear C code takes 32-bit indices only; ours take both (the excluded
    case of scikit-learn's own test_large_sparse_matrix)."""
    X, y, _ = _rows()
    with pytest.raises(ValueError, match="32-bit integer indices"):
        SkLogisticRegression(solver="saga", l1_ratio=1.0).fit(_int64(X), y)
    ours = LogisticRegression(solver="saga", l1_ratio=1.0, tol=1e-12).fit(_int64(X), y)
    _assert_fit_equal(ours, _sklearn_l1(), atol=1e-6)


# ------------------------------------------------------------------ values scikit-learn refuses
def _with_value(value, storage):
    """The rows with one stored value replaced: in ``storage``, and as scikit-learn is given them."""
    X, y, _ = _rows()
    X = X.copy()
    X.data[5] = value
    hostile = SAME_MATRIX[storage](X) if storage != "csr" else X
    return hostile, _for_sklearn(hostile, X), y


_PREDICT_METHODS = ["predict", "predict_proba", "predict_log_proba", "decision_function"]
_NON_FINITE = [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity"),
               (-np.inf, "Input X contains infinity")]


@pytest.mark.parametrize(("value", "message"), _NON_FINITE, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("storage", ["csr", "coo", "csc", "torch-csr"])
@pytest.mark.parametrize(("solver", "l1_ratio"), [("auto", None), ("lbfgs", None), ("newton", None),
                                                  ("prox_newton", 1.0)])
def test_non_finite_stored_values_are_refused_as_sklearn_does(value, message, storage, solver, l1_ratio):
    hostile, for_sklearn, y = _with_value(value, storage)
    with pytest.raises(ValueError, match=message):
        SkLogisticRegression().fit(for_sklearn, y)
    kwargs = {} if l1_ratio is None else {"l1_ratio": l1_ratio}
    with pytest.raises(ValueError, match=message):
        LogisticRegression(solver=solver, **kwargs).fit(hostile, y)


@pytest.mark.parametrize("method", [*_PREDICT_METHODS, "score"])
def test_non_finite_values_are_refused_at_prediction(method):
    X, y, _ = _rows()
    hostile, _, _ = _with_value(np.nan, "csr")
    args = (hostile, y) if method == "score" else (hostile,)
    for model in (_sklearn_l2(), LogisticRegression().fit(X, y)):
        with pytest.raises(ValueError, match="Input X contains NaN"):
            getattr(model, method)(*args)


# ------------------------------------------------------------------ columns and rows with nothing stored
def _empty_column(explicit_zeros):
    """Column EMPTY with no stored value, or with stored 0.0 in every row that had a value there."""
    X, y, w = _rows()
    X = X.tolil()
    held = X[:, EMPTY].nonzero()[0]
    X[:, EMPTY] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    if explicit_zeros:
        coo = X.tocoo()
        X = sp.csr_matrix((np.r_[coo.data, np.zeros(held.size)], (np.r_[coo.row, held],
                           np.r_[coo.col, np.full(held.size, EMPTY)])), shape=X.shape)
        assert X[:, EMPTY].nnz == held.size > 0
    return X, y, w


@pytest.mark.parametrize("explicit_zeros", [False, True], ids=["nothing-stored", "zeros-stored"])
@pytest.mark.parametrize(("solver", "C"), [("auto", 1.0), ("lbfgs", 1.0), ("newton", np.inf),
                                           ("auto", np.inf)])
def test_a_column_never_seen_gets_zero_and_the_others_the_fit_without_it(explicit_zeros, solver, C):
    """The optimum without the column, padded with 0 for it (unpenalised too: the reference drops the
    column, where scikit-learn's newton-cholesky would meet a singular Hessian)."""
    X, y, w = _empty_column(explicit_zeros)
    keep = np.delete(np.arange(N_FEATURES), EMPTY)
    ours = LogisticRegression(solver=solver, C=C, tol=1e-12, max_iter=1000).fit(X, y, sample_weight=w)
    reference = SkLogisticRegression(solver="newton-cholesky", C=C, tol=1e-12).fit(X[:, keep], y,
                                                                                   sample_weight=w)
    atol = _LBFGS_ATOL if solver == "lbfgs" else 1e-7
    assert abs(ours.coef_[0, EMPTY]) <= 1e-12
    np.testing.assert_allclose(ours.coef_[:, keep], reference.coef_, rtol=0, atol=atol)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=0, atol=atol)


def test_a_column_never_seen_under_l1_is_zero_as_in_sklearn():
    X, y, _ = _empty_column(explicit_zeros=False)
    ours = LogisticRegression(solver="prox_newton", l1_ratio=1.0, tol=1e-12).fit(X, y)
    reference = SkLogisticRegression(solver="saga", l1_ratio=1.0, tol=1e-12, max_iter=100_000).fit(X, y)
    assert ours.coef_[0, EMPTY] == 0.0
    _assert_fit_equal(ours, reference, atol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("solver", "l1_ratio"), [("auto", None), ("lbfgs", None), ("newton", None),
                                                  ("prox_newton", 1.0)])
def test_an_all_zero_matrix_gives_the_class_frequencies(n_classes, fit_intercept, solver, l1_ratio):
    """Closed form: no coefficient moves; the intercepts are the log weighted class frequencies
    (log-odds for two classes, centred logs for the multinomial model, whose penalty-free gauge
    scikit-learn fixes by centring)."""
    _, y, w = _rows(n_classes)
    X = sp.csr_matrix((N_ROWS, N_FEATURES))
    kwargs = {} if l1_ratio is None else {"l1_ratio": l1_ratio}
    ours = LogisticRegression(solver=solver, fit_intercept=fit_intercept, tol=1e-12, **kwargs).fit(
        X, y, sample_weight=w)
    np.testing.assert_array_equal(ours.coef_, 0.0)
    log_freq = np.log(np.bincount(y, weights=w) / w.sum())
    expected = (np.array([log_freq[1] - log_freq[0]]) if n_classes == 2 else log_freq - log_freq.mean()) \
        if fit_intercept else 0.0
    atol = _LBFGS_ATOL if solver == "lbfgs" else 1e-10
    np.testing.assert_allclose(ours.intercept_, expected, rtol=0, atol=atol)


# ------------------------------------------------------------------ predictions
@pytest.fixture(scope="module", params=[(2, "sparse"), (2, "dense"), (3, "sparse"), (3, "dense")],
                ids=lambda p: f"{p[0]}-classes-{p[1]}-fit")
def fitted(request):
    n_classes, kind = request.param
    X, y, w = _rows(n_classes)
    return LogisticRegression(tol=1e-10).fit(X if kind == "sparse" else X.toarray(), y, sample_weight=w), X, y


@pytest.mark.parametrize("name", SAME_MATRIX)
def test_predictions_from_every_storage_match_numpy(fitted, name):
    """decision_function, predict_proba, predict_log_proba, predict and score from each storage
    equal numpy's closed forms on the dense rows (which is what a dense input is scored by too)."""
    model, X, y = fitted
    hostile = SAME_MATRIX[name](X)
    scores = X.toarray() @ model.coef_.T + model.intercept_
    binary = scores.shape[1] == 1
    log_p = log_softmax(np.hstack([np.zeros_like(scores), scores]) if binary else scores, axis=1)
    labels = model.classes_[(scores[:, 0] > 0).astype(int) if binary else scores.argmax(1)]
    np.testing.assert_allclose(model.decision_function(hostile), scores.ravel() if binary else scores,
                               rtol=1e-13, atol=1e-13)
    proba = np.hstack([expit(-scores), expit(scores)]) if binary else softmax(scores, axis=1)
    np.testing.assert_allclose(model.predict_proba(hostile), proba, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.predict_log_proba(hostile), log_p, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(model.predict(hostile), labels)
    assert model.score(hostile, y) == accuracy_score(y, labels)


@pytest.mark.parametrize("width", [N_FEATURES - 1, N_FEATURES + 1])
@pytest.mark.parametrize("storage", ["csr", "coo", "torch-csr"])
@pytest.mark.parametrize("method", _PREDICT_METHODS)
def test_a_wrong_number_of_columns_is_refused_as_sklearn_does(fitted, width, storage, method):
    model, X, _ = fitted
    wrong = sp.hstack([X, X[:, :1]], format="csr") if width > N_FEATURES else X[:, :width]
    hostile = wrong if storage == "csr" else SAME_MATRIX[storage](wrong)
    reference = _sklearn_l2(len(model.classes_))
    message = f"X has {width} features, but LogisticRegression is expecting {N_FEATURES} features as input"
    with pytest.raises(ValueError, match=message):
        getattr(reference, method)(wrong)
    with pytest.raises(ValueError, match=message):
        getattr(model, method)(hostile)


# ------------------------------------------------------------------ torch layouts with no scipy equal
@pytest.mark.parametrize(("tensor", "message"), [
    (lambda: torch.eye(6, dtype=torch.float64).to_sparse_bsr((2, 2)), "torch.sparse_bsr is not supported"),
    (lambda: torch.ones(2, 6, 3, dtype=torch.float64).to_sparse(), r"must be 2-D .* got shape \(2, 6, 3\)"),
    (lambda: torch.ones(6, 3, 2, dtype=torch.float64).to_sparse(sparse_dim=2), "1 dense dimension"),
], ids=["bsr", "batched", "hybrid"])
def test_torch_sparse_tensors_without_a_scipy_equal_are_a_type_error(tensor, message):
    with pytest.raises(TypeError, match=message):
        LogisticRegression().fit(tensor(), np.arange(6) % 2)


# ------------------------------------------------------------------ LogisticRegressionCV
@pytest.mark.parametrize("name", ["int64-indices", "duplicates", "coo", "csr_array", "torch-csr"])
def test_cv_on_hostile_storage_matches_sklearn(name):
    X, y, _ = _rows()
    hostile = SAME_MATRIX[name](X)
    kwargs = {"Cs": [0.1, 1.0, 10.0], "cv": 3, "l1_ratios": (0.0,), "scoring": "neg_log_loss",
              "solver": "newton-cholesky", "tol": 1e-12, "use_legacy_attributes": False}
    ours = LogisticRegressionCV(**kwargs).fit(hostile, y)
    reference = SkLogisticRegressionCV(**kwargs).fit(_for_sklearn(hostile, X), y)
    assert ours.C_ == reference.C_
    _assert_fit_equal(ours, reference, atol=1e-8)


def test_cv_refuses_nan_as_sklearn_does():
    hostile, _, y = _with_value(np.nan, "csr")
    for cls in (SkLogisticRegressionCV, LogisticRegressionCV):
        with pytest.raises(ValueError, match="Input X contains NaN"):
            cls(Cs=2, cv=2, l1_ratios=(0.0,), scoring="neg_log_loss",
                use_legacy_attributes=False).fit(hostile, y)


# ------------------------------------------------------------------ sparse fits equal dense fits
_SOLVERS = [  # (solver, l1_ratio, classes it takes); scikit-learn's names map to ours (LogisticRegression)
    ("auto", None, (2, 3)), ("newton", None, (2, 3)), ("lbfgs", None, (2, 3)), ("prox_newton", 1.0, (2, 3)),
    ("prox_newton", 0.5, (2, 3)), ("newton-cholesky", None, (2, 3)), ("saga", 1.0, (2, 3)),
    ("liblinear", None, (2,)), ("liblinear", 1.0, (2,)),
]
# Proximal Newton once stopped on the dense rows at a KKT violation of 1e-11..1e-10 (tol 1e-12),
# "at the rounding floor of F", one step before the sparse fit: the model's decrease (about KKT²)
# was lost in F's rounding. Such a step is now tried, the KKT violation deciding (prox_newton.py:
# _flat_model_step), and every case agrees to 1e-10.


def _agreement_cases() -> list:
    """(solver, l1_ratio, n_classes, weighted, fit_intercept) for every solver and the classes it takes."""
    cases = []
    for solver, l1_ratio, class_counts in _SOLVERS:
        for n_classes in class_counts:
            for weighted in (False, True):
                for fit_intercept in (True, False):
                    key = (solver, l1_ratio, n_classes, weighted, fit_intercept)
                    cases.append(pytest.param(*key, id="-".join(map(str, key))))
    return cases


@pytest.mark.parametrize(("solver", "l1_ratio", "n_classes", "weighted", "fit_intercept"), _agreement_cases())
def test_sparse_and_dense_fits_agree(solver, l1_ratio, n_classes, weighted, fit_intercept):
    X, y, w = _rows(n_classes)
    kwargs = {"solver": solver, "tol": 1e-12, "max_iter": 1000, "fit_intercept": fit_intercept}
    if l1_ratio is not None:
        kwargs["l1_ratio"] = l1_ratio
    sample_weight = w if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither fit may stop short of tol
        sparse = LogisticRegression(**kwargs).fit(X, y, sample_weight=sample_weight)
        dense = LogisticRegression(**kwargs).fit(X.toarray(), y, sample_weight=sample_weight)
    assert sparse.solver_ == dense.solver_
    _assert_fit_equal(sparse, dense, atol=1e-10)
