"""Command-line interface: ``torchlogit demo | fit | predict | evaluate | report | export``.

The only module that prints or exits. Errors become one line on stderr and exit status 1
(argparse's usage errors exit 2); output files are written atomically.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import logging
import math
import sys
import time
import warnings
from collections.abc import Iterator, Sequence

import numpy as np

from torchlogit._exceptions import ModelFileError

_PROG = "torchlogit"


def main_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog=_PROG, description="Logistic regression on PyTorch: the tutorial, and exact fast solvers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="the tutorial end to end on embedded 2-D data, with figures")
    demo.add_argument("--out", default="torchlogit-demo", help="folder for the PNG figures")
    demo.add_argument("--optimizer", choices=["newton", "sgd", "adam"], default="newton",
                      help="newton: exact optimum in milliseconds (default); sgd/adam: the "
                           "tutorial's epoch loop")
    demo.add_argument("--epochs", type=_positive_int, default=1000, help="epochs for sgd/adam")
    demo.add_argument("--lr", type=_positive_float, default=None,
                      help="learning rate for sgd/adam (default 0.5 for sgd, 0.1 for adam)")
    demo.add_argument("--C", type=_positive_float, default=1.0, help="inverse penalty strength")
    demo.add_argument("--seed", type=int, default=0, help="seed of the model's initial weights")
    demo.add_argument("--quiet", action="store_true", help="no progress bar or periodic printing")

    fit = sub.add_parser("fit", help="fit a model to CSV or Parquet data and save it")
    fit.add_argument("data", nargs="+", help="a CSV file with a header row (read into memory), or "
                                             "Parquet/CSV files, folders or glob patterns (streamed)")
    fit.add_argument("--target", required=True, help="name of the label column")
    fit.add_argument("--out", default="model.safetensors", help="model file to write")
    fit.add_argument("--solver", choices=["auto", "newton", "lbfgs", "sgd", "adam", "prox_newton"],
                     default=None,
                     help="default auto (exact); sgd/adam run the tutorial's loop")
    fit.add_argument("--optimizer", choices=["sgd", "adam"], default=None,
                     help="the tutorial's optimizer (same as --solver sgd|adam)")
    fit.add_argument("--penalty", choices=["l2", "l1", "elasticnet", "none"], default="l2",
                     help="l1/elasticnet: sparse models (proximal Newton)")
    fit.add_argument("--l1-ratio", type=_fraction_closed, default=None,
                     help="elastic-net mixing in [0, 1] (1 = l1), needed for --penalty elasticnet")
    fit.add_argument("--C", type=_positive_float, default=1.0, help="inverse penalty strength")
    fit.add_argument("--cv", type=_positive_int, default=None, metavar="K",
                     help="choose C by K-fold cross-validation (log-loss) instead of --C")
    fit.add_argument("--Cs", type=_positive_int, default=10,
                     help="with --cv: how many values of C to try (a log grid)")
    fit.add_argument("--cv-plot", default=None,
                     help="with --cv: PNG of the CV curve (default: next to --out, ending -cv.png)")
    fit.add_argument("--epochs", "--max-iter", dest="max_iter", type=_positive_int, default=None,
                     help="iterations (epochs for sgd/adam); default 100, or 1000 for sgd/adam")
    fit.add_argument("--lr", type=_positive_float, default=0.1, help="learning rate for sgd/adam")
    fit.add_argument("--batch-size", type=_positive_int, default=None,
                     help="mini-batch size for sgd/adam (default: full batch)")
    fit.add_argument("--tol", type=_positive_float, default=1e-8, help="stop at max |gradient| <= tol")
    fit.add_argument("--test-size", type=_fraction, default=None,
                     help="fraction held out for the test accuracy (default 0.33; 0 to train on "
                          "everything); in-memory fits only")
    fit.add_argument("--seed", type=int, default=42, help="seed of the train/test split")
    fit.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    fit.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    infer = fit.add_argument_group("statistical inference (as statsmodels' Logit.summary)")
    infer.add_argument("--summary", action="store_true",
                       help="print standard errors, z, p-values, intervals and fit statistics, and "
                            "write them as JSON beside the model (MODEL.summary.json); needs "
                            "--penalty none (or --firth)")
    infer.add_argument("--cov", default="nonrobust", metavar="TYPE",
                       help="covariance: nonrobust (default), robust (HC0), HC1, or cluster:COLUMN")
    infer.add_argument("--firth", action="store_true",
                       help="Firth's bias-reduced fit (finite estimates under separation; binary)")
    infer.add_argument("--alpha", type=_fraction, default=0.05, help="1 - confidence level")
    stream = fit.add_argument_group("streaming and distributed fits (Parquet, several files, torchrun)")
    stream.add_argument("--chunk-rows", type=_positive_int, default=None,
                        help="rows per chunk read from disk (default 65536): memory is bounded by this")
    stream.add_argument("--features", default=None, metavar="A,B,...",
                        help="feature columns (default: every column but the target and weight)")
    stream.add_argument("--weight", default=None, help="column of sample weights")
    stream.add_argument("--checkpoint", default=None, metavar="DIR",
                        help="save the solver state here after every iteration; the same command "
                             "run again resumes from it")
    stream.add_argument("--checkpoint-every", type=_positive_int, default=None, metavar="N",
                        help="sgd/adam: also save the state every N mini-batches")
    stream.add_argument("--dist-timeout", type=_positive_float, default=600.0, metavar="SECONDS",
                        help="under torchrun: how long a rank waits for the others before failing")

    predict = sub.add_parser("predict", help="predict labels and probabilities for a CSV file")
    predict.add_argument("model", help="model file written by `torchlogit fit`")
    predict.add_argument("data", help="CSV or Parquet file with the model's feature columns (streamed)")
    predict.add_argument("--out", default=None, help="CSV or Parquet (.parquet) file to write (default: CSV "
                                                     "on standard output)")
    predict.add_argument("--proba", action="store_true",
                         help="also write the probability of every class (columns proba_<class>)")

    evaluate = sub.add_parser("evaluate", help="metrics of a model on labelled data (and plots)")
    evaluate.add_argument("model", help="model file written by `torchlogit fit`")
    evaluate.add_argument("data", help="CSV or Parquet (.parquet) file with the features and the labels")
    evaluate.add_argument("--target", required=True, help="name of the label column")
    evaluate.add_argument("--threshold", type=float, default=None,
                          help="binary models: predict the second class when its probability is >= "
                               "this, in (0, 1) (default: the most probable class)")
    evaluate.add_argument("--json", default=None, metavar="FILE", help="also write the metrics as JSON")
    evaluate.add_argument("--plots", default=None, metavar="DIR",
                          help="write ROC, precision-recall, calibration, confusion-matrix, "
                               "coefficient and decision-region figures to this folder")
    evaluate.add_argument("--plot-format", choices=["png", "svg"], default="png")
    evaluate.add_argument("--features", default=None, metavar="A,B",
                          help="the two features of the decision-region figure (default: the two "
                               "with the largest coefficients)")

    report = sub.add_parser("report", help="a self-contained HTML report: data, fit, metrics, figures")
    report.add_argument("model", help="model file written by `torchlogit fit`")
    report.add_argument("data", help="CSV or Parquet (.parquet) file with the features and the labels")
    report.add_argument("--target", required=True, help="name of the label column")
    report.add_argument("--out", default="report.html", help="HTML file to write")
    report.add_argument("--threshold", type=float, default=None, help="as for `evaluate`")
    report.add_argument("--features", default=None, metavar="A,B", help="as for `evaluate`")
    report.add_argument("--title", default=None, help="heading of the report")
    report.add_argument("--ci", action="store_true",
                        help="DATA is the data the model was fitted on: add standard errors, p-values "
                             "and confidence intervals computed from it")

    export = sub.add_parser("export", help="export a model for serving (ONNX, TorchScript, torch.export)")
    export.add_argument("model", help="model file written by `torchlogit fit`")
    export.add_argument("--format", choices=["onnx", "torchscript", "pt2"], default="onnx",
                        help="onnx (onnxruntime etc.), torchscript (torch.jit.load) or pt2 "
                             "(torch.export.load); default onnx")
    export.add_argument("--out", required=True, help="file to write")
    export.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                        help="input and arithmetic precision of the exported model")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv``; return the exit status."""
    args = main_parser().parse_args(argv)
    handlers = {"demo": _demo, "fit": _fit, "predict": _predict, "evaluate": _evaluate, "report": _report,
                "export": _export}
    try:
        with _warnings_to_stderr():
            handlers[args.command](args)
    except BrokenPipeError:  # e.g. `torchlogit predict ... | head`: the reader left
        with contextlib.suppress(OSError):
            sys.stdout.close()
        return 0
    except (ValueError, TypeError, OSError, ModelFileError) as exc:
        print(f"{_PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return 130

    return 0


def entrypoint() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format=f"{_PROG}: %(message)s")
    sys.exit(main())


# --------------------------------------------------------------------------- commands
def _demo(args: argparse.Namespace) -> None:
    from torchlogit.demo import TEST_SIZE, run_demo

    started = time.perf_counter()
    with _progress(args.quiet or args.optimizer == "newton", args.epochs, "training") as advance:
        report_every = max(1, args.epochs // 10)

        def on_epoch(epoch: int, loss: float, grad_max: float, test_accuracy: float) -> None:
            advance(f"loss {loss:.5f}")
            if not args.quiet and (epoch % report_every == 0 or epoch == args.epochs):
                _out(f"epoch {epoch:>6}: loss {loss:.6f}, max |gradient| {grad_max:.2e}, "
                     f"test accuracy {test_accuracy:.3f}")

        result = run_demo(args.out, optimizer=args.optimizer, epochs=args.epochs, lr=args.lr,
                          C=args.C, seed=args.seed, on_epoch=on_epoch)
    split = f"{result.n_train} training / {result.n_test} test points ({TEST_SIZE:.0%} held out)"
    _out(f"data: two separable groups, red = 0 and blue = 1; {split}")
    if result.method == "newton":
        _out(f"fit: Newton, exact optimum of mean log-loss + ‖w‖²/(2·C·n) with C = {args.C:g}: "
             f"{result.iterations} iterations in {result.fit_seconds * 1e3:.1f} ms, "
             f"max |gradient| {result.grad_max:.1e}")
    else:
        _out(f"fit: {result.method}, {result.iterations} epochs in {result.fit_seconds:.2f} s, "
             f"final max |gradient| {result.grad_max:.1e} (the exact solver: --optimizer newton)")
    w = result.coef
    _out(f"model: w = ({w[0]:.4f}, {w[1]:.4f}), b = {result.intercept:.4f}; "
         f"boundary {w[0]:.3f}·x1 + {w[1]:.3f}·x2 + {result.intercept:.3f} = 0")
    _out(f"accuracy: train {result.train_accuracy:.3f}, test {result.test_accuracy:.3f}")
    _out(f"new point (x1=1, x2=1): the model classifies it as {result.new_point_name.upper()} "
         f"(class {result.new_point_class}) with probability {result.new_point_probability:.4f}")
    for path in result.figures:
        _out(f"wrote {path}")
    _out(f"done in {time.perf_counter() - started:.2f} s")


def _fit(args: argparse.Namespace) -> None:
    from sklearn.model_selection import train_test_split

    from torchlogit.data.tabular import read_csv
    from torchlogit.estimator import LogisticRegression
    from torchlogit.modelfile import save_model

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

    from torchlogit import _cli_stream

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
    from torchlogit.estimator import LogisticRegression
    from torchlogit.firth import FirthLogisticRegression

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

    from torchlogit.cv import LogisticRegressionCV
    from torchlogit.plots import plot_cv_curve

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


def _predict(args: argparse.Namespace) -> None:
    """Stream the rows: one block of the input at a time, written as it is predicted."""
    from torchlogit import _cli_stream

    if _cli_stream.predict_wanted(args):  # Parquet output, or a folder / pattern of input files
        _cli_stream.predict(args)
        return
    from torchlogit.data.tabular import iter_feature_batches
    from torchlogit.modelfile import load_model, read_metadata

    estimator = load_model(args.model)
    names = read_metadata(args.model)["feature_names"]
    header = ["prediction", "probability"]
    if args.proba:
        header += [f"proba_{_label_text(c)}" for c in estimator.classes_]

    def write(handle) -> int:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        count = 0
        for X in iter_feature_batches(args.data, names):
            if X.shape[1] != estimator.n_features_in_:
                raise ValueError(f"{args.data!r} has {X.shape[1]} feature columns; the model expects "
                                 f"{estimator.n_features_in_}")
            proba = estimator.predict_proba(X)
            best = proba.argmax(axis=1)
            labels = [_label_text(label) for label in estimator.classes_[best]]
            top = proba[np.arange(len(best)), best]
            if args.proba:
                writer.writerows([label, f"{p:.10g}", *(f"{q:.10g}" for q in row)]
                                 for label, p, row in zip(labels, top, proba, strict=True))
            else:
                writer.writerows((label, f"{p:.10g}") for label, p in zip(labels, top, strict=True))
            count += len(best)
        return count

    if args.out is None:
        write(sys.stdout)
        return
    from torchlogit._fileio import atomic_path

    with atomic_path(args.out) as tmp, open(tmp, "w", newline="") as handle:
        count = write(handle)
    _out(f"wrote {count} predictions to {args.out}", err=True)


def _evaluate(args: argparse.Namespace) -> None:
    from torchlogit.evaluation import evaluate

    threshold = _threshold(args.threshold)
    _check_output(args.json)
    estimator, _, table = _model_and_data(args.model, args.data, args.target)
    pair = _feature_pair(args.features, table.feature_names)
    result = evaluate(estimator, table.X, table.y, threshold=threshold)
    _print_evaluation(result, args.data)
    if args.json is not None:
        import json

        from torchlogit._fileio import atomic_path

        document = {"model": str(args.model), "data": str(args.data), "target": args.target,
                    **result.to_dict()}
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(document, indent=2) + "\n")
        _out(f"wrote {args.json}")
    if args.plots is not None:
        from torchlogit.plots import plot_evaluation

        written = plot_evaluation(
            estimator, table.X, table.y, args.plots, fmt=args.plot_format,
            feature_names=table.feature_names, features=pair, threshold=threshold,
        )
        for path in written.values():
            _out(f"wrote {path}")


def _report(args: argparse.Namespace) -> None:
    from torchlogit.report import write_report

    threshold = _threshold(args.threshold)
    _check_output(args.out)
    estimator, metadata, table = _model_and_data(args.model, args.data, args.target)
    pair = _feature_pair(args.features, table.feature_names)
    inference = None
    if args.ci:
        try:
            inference = estimator.summary(table.X, table.y, allow_penalized=True)
        except ImportError as exc:
            raise ValueError(f"--ci: statistical inference is not available ({exc})") from None
    info = {"model file": str(args.model), "torchlogit version": metadata.get("torchlogit_version")}
    info.update({k.replace("_", " "): v for k, v in (metadata.get("extra") or {}).items()})
    write_report(
        estimator, table.X, table.y, args.out, feature_names=table.feature_names,
        title=args.title or f"torchlogit report: {args.model}", data_name=str(args.data),
        target=args.target, threshold=threshold, boundary_features=pair, inference=inference,
        model_info=info,
    )
    _out(f"wrote {args.out}")


def _export(args: argparse.Namespace) -> None:
    from torchlogit.export import export_model
    from torchlogit.modelfile import load_model, read_metadata

    _check_output(args.out)
    estimator = load_model(args.model)
    names = read_metadata(args.model)["feature_names"]
    try:
        export_model(estimator, args.out, args.format, dtype=args.dtype, feature_names=names)
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    n_classes = len(estimator.classes_)
    _out(f"wrote {args.out} ({args.format}): input 'features' ({args.dtype}, rows x "
         f"{estimator.n_features_in_}: {', '.join(names or [])}); outputs 'probabilities' "
         f"(rows x {n_classes}) and 'label'")


# --------------------------------------------------------------------------- helpers
def _model_and_data(model: str, data: str, target: str):
    """The model, its metadata, and the data's model features and labels."""
    from torchlogit.data.tabular import read_table
    from torchlogit.modelfile import load_model, read_metadata

    estimator = load_model(model)
    metadata = read_metadata(model)
    table = read_table(data, target=target, features=metadata["feature_names"])
    if table.X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"{data!r} has {table.X.shape[1]} feature columns; the model expects "
                         f"{estimator.n_features_in_}")
    return estimator, metadata, table


def _check_output(path: str | None) -> None:
    """Fail before any work when an output file cannot be created where asked."""
    if path is not None:
        from torchlogit._fileio import check_writable

        check_writable(path)


def _threshold(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 < value < 1):
        raise ValueError(f"--threshold must lie strictly between 0 and 1, got {value:g}")
    return value


def _feature_pair(text: str | None, names: list[str]) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or parts[0] == parts[1]:
        raise ValueError(f"--features takes two different feature names separated by a comma, got {text!r}")
    unknown = [p for p in parts if p not in names]
    if unknown:
        raise ValueError(f"--features: unknown feature(s) {unknown}; the model's features are {names}")
    return names.index(parts[0]), names.index(parts[1])


def _print_evaluation(result, data: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, markup=False)  # labels and paths are plain text
    labels = [_label_text(c) for c in result.classes]
    rule = ("most probable class" if result.threshold is None
            else f"{labels[1]} when its probability >= {result.threshold:g}")
    console.print(f"evaluate: {result.n_samples} rows of {data}, {len(labels)} classes; "
                  f"decision rule: {rule}")
    metrics = Table(title="Metrics (scikit-learn)", title_justify="left")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for name, value in result.metrics.items():
        metrics.add_row(name, "n/a" if value is None else f"{value:.6f}")
    console.print(metrics)
    matrix = Table(title="Confusion matrix", title_justify="left")
    matrix.add_column("true \\ predicted")
    for label in labels:
        matrix.add_column(label, justify="right")
    for label, row in zip(labels, result.confusion_matrix, strict=True):
        matrix.add_row(label, *(f"{int(v)}" for v in row))
    console.print(matrix)
    if result.best_thresholds:
        f1, j = result.best_thresholds["f1"], result.best_thresholds["youden_j"]
        console.print(f"best threshold: F1 {f1['f1']:.4f} at {f1['threshold']:.6g}; "
                      f"Youden's J {j['youden_j']:.4f} at {j['threshold']:.6g}")


def _label_text(label: object) -> str:
    return str(label.item() if isinstance(label, np.generic) else label)


def _out(text: str, *, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.strerror}: {exc.filename!r}"
    return " ".join(text.split())


@contextlib.contextmanager
def _warnings_to_stderr() -> Iterator[None]:
    """Show warnings (convergence, separation) as one line each on stderr, after the command."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen = set()
            for item in caught:
                message = _one_line(item.message)  # type: ignore[arg-type]
                if message not in seen:
                    seen.add(message)
                    print(f"{_PROG}: warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def _progress(disabled: bool, total: int, label: str):
    """A rich progress bar over ``total`` steps; yields ``advance(text)``."""
    if disabled or total <= 0:
        yield lambda text="": None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[info]}"))
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total, info="")

        def advance(text: str = "") -> None:
            bar.update(task, advance=1, info=text)

        yield advance


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not ((value > 0 and math.isfinite(value)) or value == math.inf):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _fraction_closed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value
