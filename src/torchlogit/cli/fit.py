"""``torchlogit fit``: in-memory CSV fits, cross-validation, and the inference summary.

Streamed inputs (Parquet, several files, streaming options, ``torchrun``) go on to
:mod:`torchlogit.cli.stream`. Part of the CLI layer: :mod:`torchlogit.cli.main` parses the
arguments and dispatches here, and :mod:`torchlogit.cli._output` prints.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from torchlogit.cli import _output, stream

if TYPE_CHECKING:
    from torchlogit.data.tabular import Table
    from torchlogit.estimators.logistic import LogisticRegression
    from torchlogit.inference.results import LogitResults


@dataclass(frozen=True)
class _SolverChoice:
    """The solver options once ``--solver``/``--optimizer``/``--penalty`` are reconciled."""

    solver: str
    max_iter: int
    penalty: str | None


@dataclass(frozen=True)
class _TrainingData:
    """The rows fitted and held out; ``groups`` labels the training rows' clusters (``--cov cluster:``)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    groups: np.ndarray | None
    feature_names: list[str]
    n_classes: int


def fit(args: argparse.Namespace) -> None:
    """Fit a model to the data named in ``args`` and save it (streamed inputs go to :mod:`.stream`)."""
    from torchlogit.serving.modelfile import save_model

    choice = _solver_choice(args)
    if stream.wants_streaming(args):  # Parquet, several files, streaming options or torchrun
        stream.fit(args, _new_estimator(args, choice))
        return
    cluster = _check_inference_options(args, choice.penalty)
    _check_paths(args)
    data = _training_data(args, cluster)
    estimator = _fit_in_memory(args, choice, data)
    accuracy = _print_fit(args, choice.penalty, estimator, data)
    results = _summarize(args, estimator, data) if args.summary else None
    save_model(estimator, args.out, feature_names=data.feature_names,
               extra={"source": str(args.data[0]), "target": args.target, **accuracy})
    _output.out(f"wrote {args.out}")
    if results is not None:
        from torchlogit._fileio import atomic_path

        summary_path = _summary_path(args)
        with atomic_path(summary_path) as tmp:
            tmp.write_text(results.to_json(alpha=args.alpha) + "\n", encoding="utf-8")
        _output.out(f"wrote {summary_path}")


def _solver_choice(args: argparse.Namespace) -> _SolverChoice:
    """Reconcile ``--solver`` and ``--optimizer`` (the tutorial's sgd/adam); fail on contradictions."""
    if args.solver and args.optimizer and args.solver != args.optimizer:
        raise ValueError(f"--solver {args.solver} contradicts --optimizer {args.optimizer}")
    solver = args.optimizer or args.solver or "auto"
    max_iter = args.max_iter or (1000 if solver in ("sgd", "adam") else 100)
    if args.firth and args.penalty not in (None, "none"):  # in memory or streamed, --summary or not
        raise ValueError(f"--firth takes no --penalty {args.penalty}: Firth's fit has its own penalty "
                         "(Jeffreys' prior); leave --penalty out")
    penalty = None if args.penalty == "none" else (args.penalty or "l2")
    if args.l1_ratio is not None and penalty != "elasticnet":
        raise ValueError("--l1-ratio applies to --penalty elasticnet only")
    return _SolverChoice(solver=solver, max_iter=max_iter, penalty=penalty)


def _new_estimator(args: argparse.Namespace, choice: _SolverChoice) -> LogisticRegression:
    """The unfitted estimator the options describe (in memory or streamed alike)."""
    from torchlogit.estimators.logistic import LogisticRegression

    return LogisticRegression(
        penalty=choice.penalty, l1_ratio=args.l1_ratio, C=args.C, solver=choice.solver, tol=args.tol,
        max_iter=choice.max_iter, learning_rate=args.lr, batch_size=args.batch_size, device=args.device,
        dtype=args.dtype, random_state=args.seed,
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


def _training_data(args: argparse.Namespace, cluster: str | None) -> _TrainingData:
    """Read the CSV file and split it (``--test-size``, default 0.33); every class must be trained on.

    ``cluster`` names the cluster column of ``--cov cluster:COLUMN``, read beside the features.
    """
    from sklearn.model_selection import train_test_split

    from torchlogit._validation import plain

    test_size = 0.33 if args.test_size is None else args.test_size
    table, groups = _read_training_csv(args.data[0], args.target, cluster)
    labels = np.unique(table.y)
    stream.check_labels(args.target, labels)
    if test_size == 0:
        return _TrainingData(table.X, table.y, None, None, groups, table.feature_names, len(labels))
    train, test = train_test_split(np.arange(len(table.y)), test_size=test_size, random_state=args.seed)
    missing = np.setdiff1d(labels, table.y[train])
    if len(missing):
        raise ValueError(f"the training split has no rows of class {plain(missing[0])!r}; "
                         "lower --test-size or add data")
    return _TrainingData(table.X[train], table.y[train], table.X[test], table.y[test],
                         None if groups is None else groups[train], table.feature_names, len(labels))


def _read_training_csv(path: str, target: str, cluster: str | None) -> tuple[Table, np.ndarray | None]:
    """The table of features and labels, and the cluster column's values when ``cluster`` is given."""
    from torchlogit.data.tabular import csv_column_names, read_csv

    if cluster is None:
        return read_csv(path, target=target), None
    features = [c for c in csv_column_names(path) if c not in (target, cluster)]  # clusters are no feature
    table = read_csv(path, target=target, features=features)
    return table, read_csv(path, target=cluster, features=features).y


def _fit_in_memory(args: argparse.Namespace, choice: _SolverChoice,
                   data: _TrainingData) -> LogisticRegression:
    """Firth's fit, C chosen by cross-validation, or one fit with a progress bar over its iterations."""
    if args.firth:
        return _fit_firth(args, data.X_train, data.y_train)
    if args.cv is not None:
        return _cross_validate(args, choice, data.X_train, data.y_train)
    estimator = _new_estimator(args, choice)
    with _output.progress(args.quiet, choice.max_iter, "fitting") as advance:
        estimator.fit(data.X_train, data.y_train,
                      callback=lambda it, f, g: advance(f"objective {f:.8g}, max |gradient| {g:.1e}"))
    return estimator


def _print_fit(args: argparse.Namespace, penalty: str | None, estimator: LogisticRegression,
               data: _TrainingData) -> dict[str, float]:
    """Print the fit, its accuracy and (sparse penalties) its sparsity; return the accuracies."""
    n_rows, n_features = data.X_train.shape
    status = "converged" if estimator.converged_ else "NOT converged"
    gradient = ("" if math.isnan(estimator.grad_max_)
                else f"max |gradient| {estimator.grad_max_:.2e} (tol {args.tol:g}), ")
    _output.out(f"fit: {data.n_classes} classes, {n_rows} training rows, {n_features} features; "
                f"solver {estimator.solver_}, {int(estimator.n_iter_[0])} iterations, {status}: "
                f"{gradient}objective {estimator.objective_:.10g}")
    accuracy = {"train_accuracy": float(estimator.score(data.X_train, data.y_train))}
    line = f"accuracy: train {accuracy['train_accuracy']:.4f}"
    if data.X_test is not None:
        accuracy["test_accuracy"] = float(estimator.score(data.X_test, data.y_test))
        line += f", test {accuracy['test_accuracy']:.4f} ({len(data.y_test)} held-out rows)"
    _output.out(line)
    if penalty in ("l1", "elasticnet"):
        kept = int(np.count_nonzero(estimator.coef_.any(axis=0)))
        _output.out(f"sparsity: {kept} of {n_features} features have a non-zero coefficient")
    return accuracy


def _check_inference_options(args: argparse.Namespace, penalty: str | None) -> str | None:
    """Validate --summary/--cov/--firth before any work; return the cluster column, if any."""
    if not args.summary:
        if args.firth or args.cov != "nonrobust":
            raise ValueError("--firth and --cov go with --summary")
        return None
    if args.cv is not None:
        raise ValueError("--summary reports an unpenalised fit; it cannot follow --cv")
    if args.firth and args.cov != "nonrobust":
        raise ValueError("--cov does not apply to --firth (its intervals are profile penalised-likelihood)")
    if not args.firth and penalty is not None:
        raise ValueError("--summary needs --penalty none (p-values of a penalised fit would mislead) "
                         "or --firth")
    if args.cov.startswith("cluster:"):
        column = args.cov.removeprefix("cluster:")
        if not column:
            raise ValueError("--cov cluster:COLUMN needs the name of the cluster column")
        return column
    if args.cov not in ("nonrobust", "robust", "HC0", "HC1"):
        raise ValueError(f"--cov must be nonrobust, robust, HC0, HC1 or cluster:COLUMN, got {args.cov!r}")
    return None


def _fit_firth(args: argparse.Namespace, X: np.ndarray, y: np.ndarray) -> LogisticRegression:
    """Firth's fit, stored in a LogisticRegression shell so the model file format stays one."""
    from torchlogit.estimators.firth import FirthLogisticRegression
    from torchlogit.estimators.logistic import LogisticRegression

    firth = FirthLogisticRegression(device=args.device).fit(X, y)
    shell = LogisticRegression(penalty=None)
    for name in ("coef_", "intercept_", "classes_", "n_features_in_"):
        setattr(shell, name, getattr(firth, name))
    shell.solver_, shell.n_iter_ = "firth", np.array([firth.n_iter_], dtype=np.int32)
    shell.converged_, shell.objective_, shell.grad_max_ = firth.converged_, -firth.loglik_, float("nan")
    shell.firth_ = firth
    return shell


def _summarize(args: argparse.Namespace, estimator: LogisticRegression, data: _TrainingData) -> LogitResults:
    """Print the statsmodels-style table of the training rows; return the results for the JSON file."""
    X, y = data.X_train, data.y_train
    labels = {"xname": list(data.feature_names), "yname": args.target, "alpha": args.alpha}
    if args.firth:
        results = estimator.firth_.summary(X, y, **labels)
    else:
        cov = {"robust": "HC0"}.get(args.cov, args.cov)
        cov = "cluster" if cov.startswith("cluster:") else cov
        results = estimator.summary(X, y, cov_type=cov, groups=data.groups, **labels)
    _output.show(results, width=100)
    return results


def _cross_validate(args: argparse.Namespace, choice: _SolverChoice, X: np.ndarray,
                    y: np.ndarray) -> LogisticRegression:
    """``fit --cv K``: choose C on K folds, print the CV curve, plot it; the refitted model."""
    from torchlogit.estimators.cv import LogisticRegressionCV
    from torchlogit.reporting.plots import plot_cv_curve

    if args.cv < 2:
        raise ValueError(f"--cv needs at least 2 folds, got {args.cv}")
    if choice.penalty is None:
        raise ValueError("--cv chooses the penalty strength: use --penalty l2, l1 or elasticnet")
    if choice.solver not in ("auto", "prox_newton", "newton"):
        raise ValueError(f"--cv fits with the exact solvers; drop --solver/--optimizer {choice.solver}")
    cv = LogisticRegressionCV(penalty=choice.penalty, l1_ratio=args.l1_ratio, Cs=args.Cs, cv=args.cv,
                              tol=args.tol, max_iter=choice.max_iter, device=args.device, dtype=args.dtype)
    cv.fit(X, y)
    _output.out(f"cv: {args.cv}-fold, {len(cv.Cs_)} values of C, score = mean held-out log-likelihood "
                f"(negative log-loss); chosen C = {cv.C_:.6g}")
    _output.out(f"  {'C':>12}  {'mean score':>12}  {'std':>10}")
    for C, mean, std in zip(cv.Cs_, cv.mean_scores_, cv.std_scores_, strict=True):
        _output.out(f"  {C:12.6g}  {mean:12.6f}  {std:10.6f}{'  <- chosen' if C == cv.C_ else ''}")
    plot = _cv_plot_path(args)
    plot_cv_curve(cv.Cs_, cv.mean_scores_, cv.std_scores_, cv.C_, plot)
    _output.out(f"wrote {plot}")
    return cv.best_estimator_
