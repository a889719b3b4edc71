"""scikit-learn 1.9's callbacks (``set_callbacks``, :mod:`sklearn.callback`) on our estimators.

scikit-learn's own callback tests run in ``test_sklearn_suite.py``; here: every solver's iterates
(against scikit-learn's optimum, computed in numpy), the early stop, fits whose results must not
change, cloning, scikit-learn's ready-made callbacks and a meta-estimator's task tree.
"""

import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from torchlogit import ConvergenceWarning, LogisticRegression, LogisticRegressionCV
from torchlogit.data import InMemorySource

callback_api = pytest.importorskip("sklearn.callback")  # scikit-learn >= 1.9


class Recorder:
    """A callback keeping every hook call; ``on_fit_task_end`` returns True (stop) at the end of
    iteration ``stop_at`` (1-based; None: never)."""

    def __init__(self, stop_at=None):
        self.stop_at = stop_at
        self.calls = []

    def setup(self, estimator, context):
        self.calls.append(("setup", context.task_name, context.task_id, None))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.task_name, context.task_id, None))

    def on_fit_task_begin(self, estimator, context, *, fitted_estimator=None):
        self.calls.append(("begin", context.task_name, context.task_id, fitted_estimator))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.calls.append(("end", context.task_name, context.task_id, fitted_estimator))
        return context.task_name.endswith("-iter") and context.task_id + 1 == self.stop_at

    def iterates(self):
        """The fitted estimators at the ends of the iteration tasks (without the empty last one)."""
        return [est for hook, name, _, est in self.calls
                if hook == "end" and name.endswith("-iter") and est is not None]


def _data(n_classes=2, n_features=5, seed=0):
    X, y = make_classification(n_samples=150, n_features=n_features, n_informative=3, n_redundant=1,
                               n_classes=n_classes, n_clusters_per_class=1, random_state=seed)
    return StandardScaler().fit_transform(X), y


def _quiet(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(X, y)


def sklearn_objective(coef, intercept, X, y, classes, C, l1_ratio):
    """scikit-learn's objective ``C·Σ ℓᵢ + (1−r)/2 ‖W‖² + r ‖W‖₁`` in numpy (its docstring's form)."""
    scores = X @ np.asarray(coef, dtype=np.float64).T + np.asarray(intercept, dtype=np.float64)
    y_index = np.searchsorted(classes, y)
    if scores.shape[1] == 1:
        z = scores[:, 0]
        losses = np.logaddexp(0.0, z) - (y_index == 1) * z
    else:
        losses = logsumexp(scores, axis=1) - scores[np.arange(len(y)), y_index]
    return C * losses.sum() + (1 - l1_ratio) / 2 * np.sum(coef**2) + l1_ratio * np.abs(coef).sum()


EVERY_SOLVER = [
    {"solver": "lbfgs"}, {"solver": "newton"}, {"solver": "prox_newton"},
    {"solver": "sgd", "random_state": 0, "max_iter": 15},
    {"solver": "adam", "random_state": 0, "max_iter": 15},
    {"solver": "newton-cg"}, {"solver": "newton-cholesky"}, {"solver": "sag"}, {"solver": "saga"},
    {"solver": "liblinear", "intercept_scaling": 3.0}, {"l1_ratio": 1.0, "C": 0.3}, {"l1_ratio": 0.5},
]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("params", EVERY_SOLVER, ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_every_solver_reports_its_iterations_and_the_last_is_the_fit(params, n_classes):
    """Every solver reports each iteration (scikit-learn 1.9: 'lbfgs' only, and warns for the
    others): one task per iteration and an empty last one, the last iterate is the fit."""
    if params.get("solver") == "liblinear" and n_classes > 2:
        pytest.skip("liblinear is binary only, as in scikit-learn")
    X, y = _data(n_classes)
    for data in (X, X.astype(np.float32)):
        recorder = Recorder()
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # set_callbacks warns for no solver
            estimator = LogisticRegression(**params).set_callbacks(recorder)
        _quiet(estimator, data, y)
        iterates = recorder.iterates()
        n_iter = int(estimator.n_iter_[0])
        assert len(iterates) == max(n_iter, 1)
        begins = [c for c in recorder.calls if c[0] == "begin" and c[1].endswith("-iter")]
        assert [c[2] for c in begins] == list(range(len(iterates) + 1))  # the last one is empty
        assert recorder.calls[-2][:3] == ("end", "fit", 0) and recorder.calls[-1][0] == "teardown"
        last = iterates[-1]
        assert last.coef_.dtype == estimator.coef_.dtype
        assert_array_equal(last.coef_, estimator.coef_)
        assert_array_equal(last.intercept_, estimator.intercept_)
        assert_array_equal(last.predict(data), estimator.predict(data))


def test_liblinear_warns_in_scikit_learn_only():
    """The one deliberate difference (test_sklearn_suite.py excludes scikit-learn's test of it)."""
    sklearn_text = "Callbacks are only supported in LogisticRegression for solver='lbfgs'"
    with pytest.warns(UserWarning, match=sklearn_text):
        SkLogisticRegression(solver="liblinear").set_callbacks(Recorder())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression(solver="liblinear").set_callbacks(Recorder())


REFERENCES = [  # (our parameters, scikit-learn's reference fit, l1_ratio of the objective)
    ({"solver": "lbfgs"}, {"solver": "newton-cholesky"}, 0.0),
    ({"solver": "newton"}, {"solver": "newton-cholesky"}, 0.0),
    ({"solver": "lbfgs", "C": 10.0}, {"solver": "lbfgs", "C": 10.0}, 0.0),
    ({"l1_ratio": 1.0, "C": 0.2, "fit_intercept": False},
     {"solver": "liblinear", "l1_ratio": 1.0, "C": 0.2, "fit_intercept": False}, 1.0),
]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(("ours", "reference", "l1_ratio"), REFERENCES,
                         ids=["lbfgs", "newton", "lbfgs-C10", "l1-no-intercept"])
def test_iterates_descend_to_sklearns_optimum(ours, reference, l1_ratio, n_classes):
    """scikit-learn's objective (numpy) at the reported coefficients falls with every iteration
    and ends at scikit-learn's optimum: the iterates are in the original feature coordinates
    (L-BFGS iterates in whitened ones) and mapped as coef_ and intercept_ are."""
    if reference["solver"] == "liblinear" and n_classes > 2:
        pytest.skip("liblinear is binary only")
    X, y = _data(n_classes, n_features=8, seed=3)
    X[:, 0] = 100.0 * X[:, 0] + 50.0  # a badly scaled, uncentred column: the preconditioning matters
    recorder = Recorder()
    ours = LogisticRegression(**ours).set_callbacks(recorder).fit(X, y)
    sk = _quiet(SkLogisticRegression(tol=1e-12, max_iter=100_000, **reference), X, y)
    C = reference.get("C", 1.0)

    def objective(est):
        return sklearn_objective(est.coef_, est.intercept_, X, y, sk.classes_, C, l1_ratio)

    values = np.array([objective(est) for est in recorder.iterates()])
    start = C * len(y) * np.log(n_classes)  # at zero coefficients
    assert np.all(np.diff(np.r_[start, values]) <= 1e-12 * start)
    optimum = objective(sk)
    assert values[-1] == pytest.approx(optimum, rel=1e-9)
    assert values[0] > optimum * (1 + 1e-6)  # more than one iterate, and they move


@pytest.mark.parametrize("params", [
    {"solver": "lbfgs"}, {"solver": "newton"}, {"l1_ratio": 1.0, "C": 0.05},
    {"solver": "sgd", "random_state": 0, "batch_size": 32, "max_iter": 6},
], ids=["lbfgs", "newton", "l1-working-sets", "sgd"])
def test_each_iterate_is_the_fit_of_that_many_iterations(params):
    """As scikit-learn's test for 'lbfgs': iteration i ends at what ``max_iter=i`` returns."""
    X, y = make_classification(n_samples=200, n_features=40, n_informative=6, random_state=1)
    recorder = Recorder()
    estimator = _quiet(LogisticRegression(**params).set_callbacks(recorder), X, y)
    iterates = recorder.iterates()
    assert len(iterates) == estimator.n_iter_[0] >= 3
    for i, iterate in enumerate(iterates, start=1):
        shorter = _quiet(LogisticRegression(**{**params, "max_iter": i}), X, y)
        assert shorter.n_iter_[0] == i
        assert_allclose(iterate.coef_, shorter.coef_, rtol=1e-12, atol=1e-14)
        assert_allclose(iterate.intercept_, shorter.intercept_, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("params", [
    {"solver": "lbfgs"}, {"solver": "newton"}, {"solver": "prox_newton"}, {"l1_ratio": 1.0, "C": 0.05},
    {"solver": "adam", "random_state": 0, "max_iter": 6},
], ids=["lbfgs", "newton", "prox_newton", "l1-working-sets", "adam"])
def test_a_callback_stops_the_fit(params):
    """``on_fit_task_end`` returning True at an iteration stops the solver there (the callbacks'
    contract; scikit-learn 1.9 does not honour it yet): the fit is that of ``max_iter=2``, not
    converged, and says so without a ConvergenceWarning (the stop was asked for)."""
    X, y = make_classification(n_samples=200, n_features=40, n_informative=6, random_state=1)
    recorder = Recorder(stop_at=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        estimator = LogisticRegression(**params).set_callbacks(recorder).fit(X, y)
    assert estimator.n_iter_[0] == 2 and not estimator.converged_
    shorter = _quiet(LogisticRegression(**{**params, "max_iter": 2}), X, y)
    assert_allclose(estimator.coef_, shorter.coef_, rtol=1e-12, atol=1e-14)
    hooks = [call[:3] for call in recorder.calls]
    name = f"{estimator.solver_}-iter"
    assert hooks == [("setup", "fit", 0), ("begin", "fit", 0),
                     ("begin", name, 0), ("end", name, 0), ("begin", name, 1), ("end", name, 1),
                     ("end", "fit", 0), ("teardown", "fit", 0)]  # no empty task after a stop


@pytest.mark.parametrize("params", [{"solver": "lbfgs"}, {"solver": "newton"}, {"l1_ratio": 1.0, "C": 0.1}])
def test_callbacks_do_not_change_the_fit(params):
    X, y = _data(3)
    plain = LogisticRegression(**params).fit(X, y)
    watched = LogisticRegression(**params).set_callbacks(Recorder()).fit(X, y)
    assert_array_equal(watched.coef_, plain.coef_)
    assert_array_equal(watched.intercept_, plain.intercept_)
    assert watched.n_iter_ == plain.n_iter_ and watched.history_ == plain.history_


def test_clone_and_set_callbacks_as_sklearn():
    """clone() hands the callbacks on by reference, set_callbacks() drops them, neither is a
    parameter, and a class is refused: scikit-learn's behaviour, checked on its own estimator."""
    recorder = Recorder()
    for cls in (SkLogisticRegression, LogisticRegression):
        estimator = cls().set_callbacks(recorder)
        assert clone(estimator)._skl_callbacks is estimator._skl_callbacks
        assert "callbacks" not in estimator.get_params() and "_skl_callbacks" not in estimator.get_params()
        assert not hasattr(estimator.set_callbacks(), "_skl_callbacks")
        with pytest.raises(TypeError, match="FitCallback protocol"):
            cls().set_callbacks(Recorder)


def test_sklearns_progress_bar_and_scoring_monitor_run_on_ours():
    pytest.importorskip("rich")
    X, y = _data(3)
    monitor = callback_api.ScoringMonitor(scoring="neg_log_loss")
    estimator = LogisticRegression(solver="newton").set_callbacks(callback_api.ProgressBar(), monitor)
    estimator.fit(X, y)
    scores = [row for row in monitor.get_logs().data if row["task_name"] == "fit"]
    assert len(scores) == 1  # the root task's score: the fitted model's
    assert scores[0]["neg_log_loss"] == pytest.approx(-log_loss(y, estimator.predict_proba(X)), rel=1e-12)
    per_iteration = [row for row in monitor.get_logs().data if row["task_name"] == "newton-iter"]
    assert len(per_iteration) == estimator.n_iter_[0]


def test_logistic_regression_cv_ignores_callbacks_as_sklearn():
    """scikit-learn 1.9's LogisticRegressionCV inherits set_callbacks but calls no hook; nor does ours."""
    X, y = _data()
    for cls in (SkLogisticRegressionCV, LogisticRegressionCV):
        recorder = Recorder()
        _quiet(cls(Cs=3, cv=3, l1_ratios=(0.0,)).set_callbacks(recorder), X, y)
        assert recorder.calls == []


class _Meta(callback_api.CallbackSupportMixin, BaseEstimator):
    """A meta-estimator on scikit-learn's public callback API: fits ``estimator`` twice."""

    def __init__(self, estimator):
        self.estimator = estimator

    @callback_api.with_callbacks
    def fit(self, X, y):
        context = self._init_callback_context(max_subtasks=2)
        context.call_on_fit_task_begin(estimator=self, X=X, y=y)
        for _ in range(2):
            inner = clone(self.estimator)
            sub = context.subcontext(task_name="inner")
            with sub.propagate_callback_context(inner):
                sub.call_on_fit_task_begin(estimator=self, X=X, y=y)
                inner.fit(X, y)
                sub.call_on_fit_task_end(estimator=self, X=X, y=y)
        context.call_on_fit_task_end(estimator=self, X=X, y=y)
        return self


class _Propagated(Recorder):
    max_propagation_depth = None  # an AutoPropagatedCallback: set on the meta-estimator


def test_a_meta_estimators_callbacks_reach_our_iterations():
    X, y = _data()
    recorder = _Propagated()
    _Meta(LogisticRegression(solver="newton")).set_callbacks(recorder).fit(X, y)
    assert [c[0] for c in recorder.calls].count("setup") == 1  # once, by the meta-estimator
    iteration_tasks = {(name, task_id) for hook, name, task_id, _ in recorder.calls if name == "newton-iter"}
    assert len(iteration_tasks) >= 3
    n_fit_ends = sum(1 for hook, name, _, _ in recorder.calls if (hook, name) == ("end", "fit"))
    assert n_fit_ends == 3  # our two fits (merged with the inner tasks) and the meta-estimator's


def test_fit_source_reports_iterations_without_data():
    X, y = _data()
    source = InMemorySource(torch.as_tensor(X), torch.as_tensor(y), torch.ones(len(y), dtype=torch.float64))
    recorder = Recorder()
    estimator = LogisticRegression(solver="newton").set_callbacks(recorder).fit_source(source, [0, 1])
    assert len(recorder.iterates()) == estimator.n_iter_[0]
    assert_array_equal(recorder.iterates()[-1].coef_, estimator.coef_)
    assert_allclose(estimator.coef_, LogisticRegression(solver="newton").fit(X, y).coef_, rtol=1e-12)


def test_warnings_still_point_at_the_caller():
    """fit runs inside scikit-learn's callback context (a wrapper frame): the warnings' stacklevels
    count it, so they name this file, not scikit-learn's or ours."""
    X, y = _data()
    with pytest.warns(ConvergenceWarning) as record:
        LogisticRegression(solver="lbfgs", max_iter=1).fit(X, y)
    assert {w.filename for w in record} == {__file__}
    with pytest.warns(FutureWarning) as record:
        LogisticRegression(penalty="l2").fit(X, y)
    assert {w.filename for w in record} == {__file__}
