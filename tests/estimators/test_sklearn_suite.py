"""scikit-learn's own tests of ``LogisticRegression`` and ``LogisticRegressionCV``, run on ours.

The installed wheel's ``sklearn/linear_model/tests/test_logistic.py`` is read at collection time,
its one import of the two classes is rewritten to torchlogit's (on the same line, so tracebacks
point at the right lines of scikit-learn's file), and the module is compiled and executed here;
its test functions become this module's, so pytest collects, parametrises and reports each one.
Nothing of scikit-learn's file is copied into the repository.

Tests out of scope are listed in ``EXCLUDED`` with the reason; each is reported as one skipped
test (its parametrisations are not generated). ``test_exclusions_name_tests_that_exist`` keeps
the list honest when scikit-learn's file changes.
"""

import pathlib
import types
import warnings

import pytest
import sklearn.linear_model

SOURCE = pathlib.Path(sklearn.linear_model.__file__).parent / "tests" / "test_logistic.py"
SKLEARN_IMPORT = "from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, SGDClassifier"
OUR_IMPORT = ("from sklearn.linear_model import SGDClassifier; "
              "from torchlogit import LogisticRegression, LogisticRegressionCV")

_PRIVATE = "tests scikit-learn's private {} itself, not an estimator"
_CV = "LogisticRegressionCV: "
EXCLUDED = {
    # scikit-learn's private functions: nothing of ours runs in them
    "test_logistic_regression_path_convergence_fail": _PRIVATE.format("_logistic_regression_path"),
    "test_logistic_regression_path_coefs_multinomial": _PRIVATE.format("_logistic_regression_path"),
    "test_logistic_regression_path_init_coefs": _PRIVATE.format("_logistic_regression_path"),
    "test_logreg_predict_proba_multinomial": ("calls the private LinearClassifierMixin._predict_proba_lr "
                                              "(one-vs-rest probabilities), not part of the estimator's API"),
    "test_logistic_cv_multinomial_score": _CV + _PRIVATE.format("_log_reg_scoring_path"),
    "test_lr_cv_scores_differ_when_sample_weight_is_requested": (
        _CV + "metadata routing (set_score_request) is not implemented: our folds' scorers always get "
        "the sample weights"),
    "test_scores_attribute_layout_elasticnet": (
        _CV + "compares warm-started path fits with cold single fits at tol=1e-3; our tol bounds max "
        "|gradient| of the mean objective, where 1e-3 leaves scores 1e-3 apart from different starts"),
    # array-API inputs (array_api_strict, torch arrays kept in their namespace): out of scope, the
    # estimator takes torch tensors as input and always returns numpy
    "test_logistic_regression_array_api_compliance": "array-API namespaces in and out: out of scope",
    "test_logistic_regression_array_api_warm_start": "array-API namespaces in and out: out of scope",
    # a deliberate difference: penalty='l1' with l1_ratio=0.5 is a ValueError here (scikit-learn warns
    # and fits L1, ignoring l1_ratio); tests/estimators/test_dropin.py checks the error
    "test_l1_ratio_non_elasticnet": "deliberate: a penalty contradicting l1_ratio is a ValueError here",
    # solver-specific behaviour of scikit-learn's solvers that ours, exact and deterministic, do not have
    "test_liblinear_dual_random_state": "liblinear's dual coordinate descent depends on random_state; "
                                        "ours reaches the same optimum whatever the seed",
    "test_newton_cholesky_fallback_to_lbfgs": "newton-cholesky's fallback to lbfgs (with its warning) on a "
                                              "singular Hessian; our Newton regularises the step instead",
    "test_c_inf_no_warning": "C=np.inf on separable data: ours warns PerfectSeparationWarning (a "
                             "UserWarning), the test makes it an error; scikit-learn: ConvergenceWarning",
    # scikit-learn 1.9's callbacks (sklearn.callback) see the iterations of solver='lbfgs' only, and
    # set_callbacks warns for every other solver; here every solver reports its iterations (no warning):
    # tests/estimators/test_callbacks.py checks them, liblinear's included
    "test_logistic_regression_callback_support_warning": (
        "deliberate: callbacks see every solver's iterations here, so solver='liblinear' does not warn"),
}

# single parametrisations out of scope: {test: ({argument: value}, reason)}
EXCLUDED_CASES = {
    "test_lr_penalty_l1ratio_incompatible": (
        {"penalty": "l2", "l1_ratio": 1.0},
        "deliberate: penalty='l2' with l1_ratio=1 is a ValueError here (the 'l1', 0.0 case runs)"),
    "test_large_sparse_matrix": (
        {"solver": ("liblinear", "sag", "saga")},
        "scikit-learn's liblinear/sag/saga refuse 64-bit sparse indices (a limit of their C code); ours fit"),
    "test_logistic_glmnet": (
        {"solver": "lbfgs"},
        "our L-BFGS stops at max |gradient| <= tol=1e-8, 1e-8 from glmnet's tiny coefficient (-8.2e-05); "
        "the test's rtol=1e-5 needs more (the newton-cholesky case runs)"),
}


def _sklearn_tests() -> types.ModuleType:
    """scikit-learn's test module with torchlogit's classes imported in place of its own."""
    text = SOURCE.read_text()
    if text.count(SKLEARN_IMPORT) != 1:
        raise RuntimeError(f"{SOURCE} no longer imports the classes as {SKLEARN_IMPORT!r}: update the runner")
    module = types.ModuleType("sklearn_test_logistic_on_torchlogit")
    module.__file__ = str(SOURCE)
    with warnings.catch_warnings():
        # its marks (thread_unsafe) are registered by scikit-learn's conftest.py, not ours
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        exec(compile(text.replace(SKLEARN_IMPORT, OUR_IMPORT), str(SOURCE), "exec"), module.__dict__)
    return module


def _excluded(name: str, reason: str):
    """A skipped stand-in named like the excluded test, so the report counts it with its reason."""

    @pytest.mark.skip(reason=f"excluded: {reason}")
    def excluded() -> None:
        """Not run: see EXCLUDED."""

    excluded.__name__ = name
    return excluded


def _skip_cases(test, where: dict, reason: str):
    """``test`` with the parametrisations whose arguments match ``where`` (a value or a tuple of
    accepted values per argument) marked as skipped."""
    accepted = {name: value if isinstance(value, tuple) else (value,) for name, value in where.items()}
    marks = []
    for mark in test.pytestmark:
        names = [n.strip() for n in mark.args[0].split(",")] if mark.name == "parametrize" else []
        if not set(accepted) & set(names):
            marks.append(mark)
            continue
        values = []
        for value in mark.args[1]:
            row = value if len(names) > 1 else (value,)
            if all(row[names.index(n)] in accepted[n] for n in accepted if n in names):
                value = pytest.param(*row, marks=pytest.mark.skip(reason=f"excluded: {reason}"))
            values.append(value)
        marks.append(pytest.mark.parametrize(mark.args[0], values, **mark.kwargs).mark)
    test.pytestmark = marks
    return test


_MODULE = _sklearn_tests()
# scikit-learn's own configuration turns its FutureWarnings and DeprecationWarnings into errors,
# not UserWarnings (which its tests emit, e.g. "Inconsistent values: penalty=l1 with l1_ratio=0.0");
# torchlogit's PerfectSeparationWarning, which scikit-learn does not have, is a UserWarning too
_SKLEARN_MARKS = getattr(_MODULE, "pytestmark", [])
pytestmark = [pytest.mark.filterwarnings("default::UserWarning"),
              *(_SKLEARN_MARKS if isinstance(_SKLEARN_MARKS, list) else [_SKLEARN_MARKS])]
for _name, _test in vars(_MODULE).items():
    if _name.startswith("test_") and callable(_test):
        if _name in EXCLUDED:
            _test = _excluded(_name, EXCLUDED[_name])
        elif _name in EXCLUDED_CASES:
            _test = _skip_cases(_test, *EXCLUDED_CASES[_name])
        globals()[_name] = _test


@pytest.fixture
def global_random_seed() -> int:
    """scikit-learn's conftest.py fixture, at its default seed (SKLEARN_TESTS_GLOBAL_RANDOM_SEED unset)."""
    return 42


def test_exclusions_name_tests_that_exist():
    assert set(EXCLUDED) | set(EXCLUDED_CASES) <= {name for name in vars(_MODULE) if name.startswith("test_")}
