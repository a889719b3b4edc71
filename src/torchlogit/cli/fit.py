"""``torchlogit fit``: in-memory CSV fits, cross-validation, and the inference summary.

Streamed inputs (Parquet, several files, chunking or checkpoint options, ``torchrun``) go on to
:mod:`torchlogit.cli.stream`. Part of the CLI layer: :mod:`torchlogit.cli.main` parses the
arguments and dispatches here, :mod:`torchlogit.cli.columns` chooses the columns and
:mod:`torchlogit.cli._output` prints.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from torchlogit.cli import _output, columns, stream

if TYPE_CHECKING:
    from torchlogit.estimators.logistic import LogisticRegression
    from torchlogit.inference.results import LogitResults

MAX_COEFFICIENT_ROWS = 30
"""``fit`` prints the coefficients of models with at most this many features."""

_COV_TYPES = ("nonrobust", "robust", "HC0", "HC1", "HC2", "HC3")


@dataclass(frozen=True)
class _SolverChoice:
    """The solver options once ``--solver``/``--optimizer``/``--penalty``/``--C`` are reconciled."""

    solver: str
    max_iter: int
    penalty: str | None
    C: float
    class_weight: Any


@dataclass(frozen=True)
class _TrainingData:
    """The rows fitted and held out, with their weights and (``--cov cluster:``) cluster labels.

    ``groups`` has one column per cluster column (two for two-way clustering), or is ``None``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    w_train: np.ndarray | None
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    w_test: np.ndarray | None
    groups: np.ndarray | None
    columns: columns.Columns
    n_classes: int

    @property
    def feature_names(self) -> list[str]:
        return self.columns.features


def fit(args: argparse.Namespace) -> None:
    """Fit a model to the data named in ``args`` and save it (streamed inputs go to :mod:`.stream`)."""
    from torchlogit.serving.modelfile import save_model

    choice = _solver_choice(args)
    clusters = _check_inference_options(args)
    if stream.wants_streaming(args):  # Parquet, several files, streaming options or torchrun
        stream.fit(args, _new_estimator(args, choice))
        return
    _check_paths(args)
    data = _training_data(args, clusters, choice)
    estimator = _fit_in_memory(args, choice, data)
    accuracy = _print_fit(args, choice.penalty, estimator, data)
    results = _summarize(args, estimator, data) if args.summary else None
    if results is None and data.X_train.shape[1] <= MAX_COEFFICIENT_ROWS:
        _output.show(coefficient_table(estimator, data.feature_names), plain=True)
    _forget_names(estimator)
    save_model(estimator, args.out, feature_names=data.feature_names,
               extra={"source": str(args.data[0]), "target": args.target, **accuracy})
    _output.out(f"wrote {args.out}")
    if results is not None:
        from torchlogit._fileio import atomic_path

        summary_path = _summary_path(args)
        with atomic_path(summary_path) as tmp:
            tmp.write_text(results.to_json(alpha=1 - args.confidence) + "\n", encoding="utf-8")
        _output.out(f"wrote {summary_path}")


def _solver_choice(args: argparse.Namespace) -> _SolverChoice:
    """Reconcile ``--solver`` and ``--optimizer`` (the tutorial's sgd/adam); fail on contradictions.

    A ``--C`` that the fit would not use (``--penalty none``, ``--firth``, ``--cv``) is a warning
    rather than silence.
    """
    if args.solver and args.optimizer and args.solver != args.optimizer:
        raise ValueError(f"--solver {args.solver} contradicts --optimizer {args.optimizer}")
    solver = args.optimizer or args.solver or "auto"
    max_iter = args.max_iter or (1000 if solver in ("sgd", "adam") else 100)
    if args.firth and args.penalty not in (None, "none"):  # in memory or streamed, --summary or not
        raise ValueError(f"--firth takes no --penalty {args.penalty}: Firth's fit has its own penalty "
                         "(Jeffreys' prior); leave --penalty out")
    penalty = None if args.penalty == "none" or args.firth else (args.penalty or "l2")
    if args.l1_ratio is not None and penalty != "elasticnet":
        raise ValueError("--l1-ratio applies to --penalty elasticnet only")
    if penalty == "elasticnet" and args.l1_ratio is None:
        raise ValueError("--penalty elasticnet needs --l1-ratio (scikit-learn's l1_ratio: the L1 share "
                         "of the penalty, in [0, 1])")
    ignored_by = ("--penalty none" if penalty is None and not args.firth else "--firth" if args.firth
                  else "--cv (it chooses C)" if args.cv is not None else None)
    if args.C is not None and ignored_by:
        _output.warning(f"--C {args.C:g} is ignored with {ignored_by}")
    C = 1.0 if args.C is None else args.C
    return _SolverChoice(solver=solver, max_iter=max_iter, penalty=penalty, C=C,
                         class_weight=columns.class_weight_option(args.class_weight))


def _new_estimator(args: argparse.Namespace, choice: _SolverChoice) -> LogisticRegression:
    """The unfitted estimator the options describe (in memory or streamed alike)."""
    from torchlogit.estimators.logistic import LogisticRegression

    share = {"l1": 1.0, "elasticnet": args.l1_ratio}.get(choice.penalty or "", 0.0)  # scikit-learn 1.8+
    return LogisticRegression(
        l1_ratio=share, C=math.inf if choice.penalty is None else choice.C, solver=choice.solver,
        tol=args.tol, max_iter=choice.max_iter, learning_rate=args.lr, batch_size=args.batch_size,
        device=args.device, dtype=args.dtype, random_state=args.random_state,
        class_weight=choice.class_weight,
    )


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse outputs (model, summary, CV plot) replacing the data or each other, or not writable."""
    from torchlogit.data.streaming import expand_paths

    outputs = [("--out", args.out), ("the summary", _summary_path(args) if args.summary else None),
               ("--cv-plot" if args.cv_plot else "the CV plot", _cv_plot_path(args) if args.cv else None)]
    _output.refuse_overwrites(outputs, [("the input file", path) for path in expand_paths(args.data)])
    for _, path in outputs:
        _output.check_output(path)


def _summary_path(args: argparse.Namespace) -> str:
    """``fit --summary``: the JSON file of the summary, beside the model."""
    return f"{args.out}.summary.json"


def _cv_plot_path(args: argparse.Namespace) -> str:
    """``fit --cv``: the PNG of the CV curve (``--cv-plot``, default beside the model, ending ``-cv.png``)."""
    from pathlib import Path

    model_path = Path(args.out)
    return args.cv_plot or str(model_path.with_name(f"{model_path.stem}-cv.png"))


def _training_data(args: argparse.Namespace, clusters: list[str], choice: _SolverChoice) -> _TrainingData:
    """Read the CSV file, print its columns' roles and split it (``--test-size``, default 0.33);
    every class must be trained on."""
    from sklearn.model_selection import train_test_split

    from torchlogit._validation import plain
    from torchlogit.data.tabular import csv_column_names

    path = args.data[0]
    chosen = columns.choose(csv_column_names(path), args, clusters)
    X, y, weights, groups = _read_columns(path, chosen)
    labels = np.unique(y)
    stream.check_labels(args.target, labels)
    columns.matched_class_weight(choice.class_weight, labels)  # unknown labels fail before the fit
    columns.describe(chosen, f"{path}, {_output.grouped(len(y))} rows", labels)
    for name in columns.identifier_columns(X, chosen.features):
        _output.warning(f"feature {name!r} holds a different whole number on every row, like a row id; "
                        f"leave it out with --exclude {name} if it is one")
    test_size = 0.33 if args.test_size is None else args.test_size
    if test_size == 0:
        return _TrainingData(X, y, weights, None, None, None, groups, chosen, len(labels))
    train, test = train_test_split(np.arange(len(y)), test_size=test_size, random_state=args.split_seed)
    missing = np.setdiff1d(labels, y[train])
    if len(missing):
        raise ValueError(f"the training split has no rows of class {plain(missing[0])!r}; "
                         "lower --test-size or add data")

    def rows(values: np.ndarray | None, index: np.ndarray) -> np.ndarray | None:
        return None if values is None else values[index]

    return _TrainingData(X[train], y[train], rows(weights, train), X[test], y[test], rows(weights, test),
                         rows(groups, train), chosen, len(labels))


def _read_columns(path: str, chosen: columns.Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                                              np.ndarray | None]:
    """The features, labels, weights (or ``None``) and cluster labels (or ``None``) of the file."""
    from torchlogit.data.tabular import read_csv

    numeric = [*chosen.features, *([chosen.weight] if chosen.weight else [])]
    table = read_csv(path, target=chosen.target, features=numeric)
    X = table.X[:, :len(chosen.features)]
    weights = table.X[:, -1].copy() if chosen.weight else None
    groups = None
    if chosen.clusters:  # cluster labels may be text: each is read as a label column
        groups = np.column_stack([read_csv(path, target=c, features=chosen.features[:1]).y
                                  for c in chosen.clusters])
        groups = groups[:, 0] if groups.shape[1] == 1 else groups
    return X, table.y, weights, groups


def _named(X: np.ndarray, names: list[str]) -> Any:
    """``X`` as a table whose columns carry the feature names (a pyarrow Table, which scikit-learn
    reads names from), so the estimator's own messages name the features as the file does."""
    import pyarrow as pa

    return pa.table({name: X[:, j] for j, name in enumerate(names)})


def _forget_names(estimator: LogisticRegression) -> None:
    """Drop ``feature_names_in_`` before saving: the model file keeps the names as metadata, and the
    commands reading it pass plain arrays (named tables would be needed everywhere otherwise)."""
    for model in (estimator, getattr(estimator, "firth_", None)):
        if model is not None and hasattr(model, "feature_names_in_"):
            del model.feature_names_in_


def _fit_in_memory(args: argparse.Namespace, choice: _SolverChoice,
                   data: _TrainingData) -> LogisticRegression:
    """Firth's fit, C chosen by cross-validation, or one fit with a progress line over its iterations."""
    if args.firth:
        return _fit_firth(args, data)
    X = _named(data.X_train, data.feature_names)
    if args.cv is not None:
        return _cross_validate(args, choice, X, data)
    estimator = _new_estimator(args, choice).set_params(
        class_weight=columns.matched_class_weight(choice.class_weight, np.unique(data.y_train)))
    epochs = choice.max_iter if choice.solver in ("sgd", "adam") else None
    with _output.fit_progress(_output.bar_wanted(args.quiet, args.progress), epochs=epochs) as bar:
        estimator.fit(X, data.y_train, sample_weight=data.w_train, callback=bar.on_iteration)
        bar.finish(bool(estimator.converged_), int(estimator.n_iter_[0]))
    return estimator


def _print_fit(args: argparse.Namespace, penalty: str | None, estimator: LogisticRegression,
               data: _TrainingData) -> dict[str, float]:
    """Print how the fit went, its accuracy and (sparse penalties) its sparsity; return the accuracies."""
    status = "converged" if estimator.converged_ else "NOT converged"
    gradient = ("" if math.isnan(estimator.grad_max_)
                else f"max |gradient| {estimator.grad_max_:.2e} (tol {args.tol:g}); ")
    n_iter = int(estimator.n_iter_[0])
    plural = "s" if n_iter != 1 else ""
    _output.wrapped(f"fit: solver {estimator.solver_}, {n_iter} iteration{plural}, {status}")
    _output.wrapped(f"  {gradient}objective {estimator.objective_:.10g}")
    _output.wrapped(f"  {data.n_classes} classes, {_output.grouped(len(data.y_train))} training rows, "
                    f"{len(data.feature_names)} features")
    model = _scoring(estimator, data.feature_names)
    accuracy = {"train_accuracy": float(model(data.X_train, data.y_train))}
    line = f"accuracy: train {accuracy['train_accuracy']:.4f}"
    if data.X_test is not None:
        accuracy["test_accuracy"] = float(model(data.X_test, data.y_test))
        line += f", test {accuracy['test_accuracy']:.4f} ({_output.grouped(len(data.y_test))} held-out rows)"
    _output.wrapped(line)
    if penalty in ("l1", "elasticnet"):
        kept = int(np.count_nonzero(estimator.coef_.any(axis=0)))
        _output.out(f"sparsity: {kept} of {data.X_train.shape[1]} features have a non-zero coefficient")
    return accuracy


def _scoring(estimator: LogisticRegression, names: list[str]):
    """``score(X, y)`` of the estimator on plain arrays, named as it was fitted (no feature-name warning)."""
    named = hasattr(estimator, "feature_names_in_")
    return lambda X, y: estimator.score(_named(X, names) if named else X, y)


def coefficient_table(estimator: LogisticRegression, names: list[str]) -> Any:
    """The fitted coefficients as a rich table: the intercept and one row per feature; binary
    models also show the odds ratio, multinomial ones one column per class (scikit-learn's rows)."""
    from rich import box
    from rich.table import Table

    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64))
    classes = [_output.label_text(c) for c in estimator.classes_]
    binary = coef.shape[0] == 1
    title = f"Coefficients (log-odds of {classes[1]})" if binary else "Coefficients (one column per class)"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("term")
    headers = ["coefficient", "odds ratio"] if binary else [f"class {c}" for c in classes]
    for header in headers:
        table.add_column(header, justify="right")
    for name, values in [("intercept", intercept), *zip(names, coef.T, strict=True)]:
        cells = [f"{v:.4g}" for v in values]
        if binary:
            cells.append(_odds(values[0]) if name != "intercept" else "")
        table.add_row(name, *cells)
    return table


def _odds(value: float) -> str:
    with np.errstate(over="ignore"):
        return f"{np.exp(value):.4g}"


def _check_inference_options(args: argparse.Namespace) -> list[str]:
    """Validate --summary/--cov/--firth before any work; return the cluster columns (none, one or two)."""
    if not args.summary:
        if args.firth or args.cov != "nonrobust":
            raise ValueError("--firth and --cov go with --summary")
        return []
    if args.cv is not None:
        raise ValueError("--summary reports an unpenalised fit; it cannot follow --cv")
    if args.firth and args.cov != "nonrobust":
        raise ValueError("--cov does not apply to --firth (its intervals are profile penalised-likelihood)")
    if not args.firth and args.penalty in (None, "l2", "l1", "elasticnet"):
        raise ValueError("--summary needs --penalty none (p-values of a penalised fit would mislead) "
                         "or --firth")
    if args.cov.startswith("cluster:"):
        names = [c.strip() for c in args.cov.removeprefix("cluster:").split(",")]
        if not all(names) or len(names) > 2 or len(set(names)) != len(names):
            raise ValueError("--cov cluster:COLUMN or cluster:A,B needs the name of one or two different "
                             f"cluster columns, got {args.cov!r}")
        return names
    if args.cov not in _COV_TYPES:
        raise ValueError(f"--cov must be nonrobust, robust, HC0, HC1, HC2, HC3, cluster:COLUMN or "
                         f"cluster:A,B, got {args.cov!r}")
    return []


def _fit_firth(args: argparse.Namespace, data: _TrainingData) -> LogisticRegression:
    """Firth's fit, stored in a LogisticRegression shell so the model file format stays one."""
    from torchlogit.estimators.firth import FirthLogisticRegression
    from torchlogit.estimators.logistic import LogisticRegression

    firth = FirthLogisticRegression(device=args.device).fit(data.X_train, data.y_train,
                                                            sample_weight=data.w_train)
    shell = LogisticRegression(C=math.inf)  # unpenalised, in scikit-learn 1.8's words
    for name in ("coef_", "intercept_", "classes_", "n_features_in_"):
        setattr(shell, name, getattr(firth, name))
    shell.solver_, shell.n_iter_ = "firth", np.array([firth.n_iter_], dtype=np.int32)
    shell.converged_, shell.objective_, shell.grad_max_ = firth.converged_, -firth.loglik_, float("nan")
    shell.firth_ = firth
    return shell


def _summarize(args: argparse.Namespace, estimator: LogisticRegression, data: _TrainingData) -> LogitResults:
    """Print the statsmodels-style table of the training rows; return the results for the JSON file."""
    X, y, alpha = data.X_train, data.y_train, 1 - args.confidence
    labels = {"xname": list(data.feature_names), "yname": args.target, "alpha": alpha}
    if args.firth:
        results = estimator.firth_.summary(X, y, sample_weight=data.w_train, **labels)
    else:
        cov = {"robust": "HC0"}.get(args.cov, args.cov)
        cov = "cluster" if cov.startswith("cluster:") else cov
        results = estimator.summary(_named(X, data.feature_names), y, sample_weight=data.w_train,
                                    cov_type=cov, groups=data.groups, **labels)
    _output.show_summary(results.summary())
    return results


def _cross_validate(args: argparse.Namespace, choice: _SolverChoice, X: Any,
                    data: _TrainingData) -> LogisticRegression:
    """``fit --cv K``: choose C on K folds, print the CV curve, plot it; the refitted model."""
    from torchlogit.estimators.cv import LogisticRegressionCV
    from torchlogit.reporting.plots import plot_cv_curve

    if args.cv < 2:
        raise ValueError(f"--cv needs at least 2 folds, got {args.cv}")
    if choice.penalty is None:
        raise ValueError("--cv chooses the penalty strength: use --penalty l2, l1 or elasticnet")
    if choice.solver not in ("auto", "prox_newton", "newton"):
        raise ValueError(f"--cv fits with the exact solvers; drop --solver/--optimizer {choice.solver}")
    class_weight = columns.matched_class_weight(choice.class_weight, np.unique(data.y_train))
    share = {"l2": 0.0, "l1": 1.0}.get(choice.penalty, args.l1_ratio)  # the L1 share of the penalty
    cv = LogisticRegressionCV(Cs=args.Cs, cv=args.cv, l1_ratios=(share,), scoring="neg_log_loss",
                              use_legacy_attributes=False, solver="auto",
                              tol=args.tol, max_iter=choice.max_iter, device=args.device, dtype=args.dtype,
                              class_weight=class_weight)
    cv.fit(X, data.y_train, sample_weight=data.w_train)
    _output.out(f"cv: {args.cv}-fold, {len(cv.Cs_)} values of C, score = mean held-out log-likelihood "
                f"(negative log-loss); chosen C = {cv.C_:.6g}")
    _output.out(f"  {'C':>12}  {'mean score':>12}  {'std':>10}")
    for C, mean, std in zip(cv.Cs_, cv.mean_scores_, cv.std_scores_, strict=True):
        _output.out(f"  {C:12.6g}  {mean:12.6f}  {std:10.6f}{'  <- chosen' if C == cv.C_ else ''}")
    plot = _cv_plot_path(args)
    plot_cv_curve(cv.Cs_, cv.mean_scores_, cv.std_scores_, cv.C_, plot)
    _output.out(f"wrote {plot}")
    return cv.best_estimator_
