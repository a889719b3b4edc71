"""``torchlogit fit``: in-memory CSV fits, cross-validation, and the inference summary.

Part of the CLI layer (it prints); :mod:`torchlogit.cli.main` parses the arguments and dispatches here.
"""

from __future__ import annotations

import argparse
import csv
import math

import numpy as np

from torchlogit.cli.main import _out, _progress


def fit(args: argparse.Namespace) -> None:
    """Fit a model to the data named in ``args`` and save it (streamed inputs go to _cli_stream)."""
    from sklearn.model_selection import train_test_split

    from torchlogit.data.tabular import read_csv
    from torchlogit.estimators.logistic import LogisticRegression
    from torchlogit.serving.modelfile import save_model

    if args.solver and args.optimizer and args.solver != args.optimizer:
        raise ValueError(f"--solver {args.solver} contradicts --optimizer {args.optimizer}")
    solver = args.optimizer or args.solver or "auto"
    stochastic = solver in ("sgd", "adam")
    max_iter = args.max_iter or (1000 if stochastic else 100)
    penalty = None if args.penalty == "none" else args.penalty
    if args.l1_ratio is not None and penalty != "elasticnet":
        raise ValueError("--l1-ratio applies to --penalty elasticnet only")

    def make_estimator() -> LogisticRegression:
        return LogisticRegression(
            penalty=penalty, l1_ratio=args.l1_ratio, C=args.C, solver=solver, tol=args.tol,
            max_iter=max_iter, learning_rate=args.lr, batch_size=args.batch_size, device=args.device,
            dtype=args.dtype, random_state=args.seed,
        )

    from torchlogit.cli import stream as _cli_stream

    if _cli_stream.wants_streaming(args):  # Parquet, several files, streaming options or torchrun
        _cli_stream.fit(args, make_estimator())
        return
    data, test_size = args.data[0], 0.33 if args.test_size is None else args.test_size
    cluster = _check_inference_options(args, penalty)
    if cluster is None:
        table = read_csv(data, target=args.target)
    else:  # the cluster column labels groups; it is not a feature
        features = [c for c in _csv_header(data) if c not in (args.target, cluster)]
        table = read_csv(data, target=args.target, features=features)
        groups = read_csv(data, target=cluster, features=features).y
    labels = np.unique(table.y)
    if len(labels) < 2:
        raise ValueError(f"target {args.target!r} has a single class ({labels[0]!r}); need at least 2")
    X_train, X_test, y_train, y_test = table.X, None, table.y, None
    if test_size > 0:
        X_train, X_test, y_train, y_test = train_test_split(
            table.X, table.y, test_size=test_size, random_state=args.seed,
        )
        missing = np.setdiff1d(labels, y_train)
        if len(missing):
            raise ValueError(f"the training split has no rows of class {missing[0]!r}; "
                             "lower --test-size or add data")
    if args.summary and test_size > 0:
        rows = np.arange(len(table.y))
        train_rows = train_test_split(rows, test_size=test_size, random_state=args.seed)[0]
        groups = groups[train_rows] if cluster is not None else None
    elif args.summary and cluster is None:
        groups = None
    if args.firth:
        estimator = _fit_firth(args, X_train, y_train)
    elif args.cv is not None:
        estimator = _cross_validate(args, penalty, solver, max_iter, X_train, y_train)
    else:
        estimator = make_estimator()
        with _progress(args.quiet, max_iter, "fitting") as advance:
            estimator.fit(X_train, y_train,
                          callback=lambda it, f, g: advance(f"objective {f:.8g}, max |gradient| {g:.1e}"))
    status = "converged" if estimator.converged_ else "NOT converged"
    gradient = ("" if math.isnan(estimator.grad_max_)
                else f"max |gradient| {estimator.grad_max_:.2e} (tol {args.tol:g}), ")
    _out(f"fit: {len(labels)} classes, {X_train.shape[0]} training rows, {X_train.shape[1]} features; "
         f"solver {estimator.solver_}, {int(estimator.n_iter_[0])} iterations, {status}: "
         f"{gradient}objective {estimator.objective_:.10g}")
    accuracy = {"train_accuracy": float(estimator.score(X_train, y_train))}
    line = f"accuracy: train {accuracy['train_accuracy']:.4f}"
    if X_test is not None:
        accuracy["test_accuracy"] = float(estimator.score(X_test, y_test))
        line += f", test {accuracy['test_accuracy']:.4f} ({len(y_test)} held-out rows)"
    _out(line)
    if penalty in ("l1", "elasticnet"):
        kept = int(np.count_nonzero(estimator.coef_.any(axis=0)))
        _out(f"sparsity: {kept} of {X_train.shape[1]} features have a non-zero coefficient")
    results = None
    if args.summary:
        results = _summarize(args, estimator, X_train, y_train, groups, table.feature_names)
    save_model(estimator, args.out, feature_names=table.feature_names,
               extra={"source": str(data), "target": args.target, **accuracy})
    _out(f"wrote {args.out}")
    if results is not None:
        from torchlogit._fileio import atomic_path

        summary_path = f"{args.out}.summary.json"
        with atomic_path(summary_path) as tmp:
            tmp.write_text(results.to_json(alpha=args.alpha) + "\n", encoding="utf-8")
        _out(f"wrote {summary_path}")


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


def _csv_header(path: str) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


def _fit_firth(args: argparse.Namespace, X: np.ndarray, y: np.ndarray):
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


def _summarize(args: argparse.Namespace, estimator, X: np.ndarray, y: np.ndarray, groups, names):
    """Print the statsmodels-style table; return the results for the JSON file."""
    from rich.console import Console

    labels = {"xname": list(names), "yname": args.target, "alpha": args.alpha}
    if args.firth:
        results = estimator.firth_.summary(X, y, **labels)
    else:
        cov = {"robust": "HC0"}.get(args.cov, args.cov)
        cov = "cluster" if cov.startswith("cluster:") else cov
        results = estimator.summary(X, y, cov_type=cov, groups=groups, **labels)
    Console(width=100).print(results)
    return results


def _cross_validate(args: argparse.Namespace, penalty: str | None, solver: str, max_iter: int,
                    X: np.ndarray, y: np.ndarray):
    """``fit --cv K``: choose C on K folds, print the CV curve, plot it; the refitted model."""
    from pathlib import Path

    from torchlogit.estimators.cv import LogisticRegressionCV
    from torchlogit.reporting.plots import plot_cv_curve

    if args.cv < 2:
        raise ValueError(f"--cv needs at least 2 folds, got {args.cv}")
    if penalty is None:
        raise ValueError("--cv chooses the penalty strength: use --penalty l2, l1 or elasticnet")
    if solver not in ("auto", "prox_newton", "newton"):
        raise ValueError(f"--cv fits with the exact solvers; drop --solver/--optimizer {solver}")
    cv = LogisticRegressionCV(penalty=penalty, l1_ratio=args.l1_ratio, Cs=args.Cs, cv=args.cv,
                              tol=args.tol, max_iter=max_iter, device=args.device, dtype=args.dtype)
    cv.fit(X, y)
    _out(f"cv: {args.cv}-fold, {len(cv.Cs_)} values of C, score = mean held-out log-likelihood "
         f"(negative log-loss); chosen C = {cv.C_:.6g}")
    _out(f"  {'C':>12}  {'mean score':>12}  {'std':>10}")
    for C, mean, std in zip(cv.Cs_, cv.mean_scores_, cv.std_scores_, strict=True):
        _out(f"  {C:12.6g}  {mean:12.6f}  {std:10.6f}{'  <- chosen' if C == cv.C_ else ''}")
    out = Path(args.out)
    plot = args.cv_plot or str(out.with_name(f"{out.stem}-cv.png"))
    plot_cv_curve(cv.Cs_, cv.mean_scores_, cv.std_scores_, cv.C_, plot)
    _out(f"wrote {plot}")
    return cv.best_estimator_
