"""Command-line interface: ``torchlogit demo | fit | predict | evaluate | report | export``.

The only module that prints or exits. Errors become one line on stderr and exit status 1
(argparse's usage errors exit 2); output files are written atomically.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence

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
    stream.add_argument("--memory-map", action="store_true",
                        help="map Parquet files instead of reading them: about 10%% faster passes; "
                             "a file changed during the fit then ends it with a bus error")
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
    try:
        with _warnings_to_stderr():
            _handler(args.command)(args)
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


def _handler(command: str):
    """The function running ``command`` (imported on demand: each pulls in what it needs)."""
    if command in ("fit",):
        from torchlogit.cli import fit as _cli_fit

        return _cli_fit.fit
    if command in ("evaluate", "report", "export"):
        from torchlogit.cli import evaluate as _cli_evaluate

        return getattr(_cli_evaluate, command)
    return {"demo": _demo, "predict": _predict}[command]


def entrypoint() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format=f"{_PROG}: %(message)s")
    code = main()
    from torchlogit import distributed

    if distributed.group_broken():  # a peer died: skip the broken group's destructors, which may abort
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


# --------------------------------------------------------------------------- commands
def _demo(args: argparse.Namespace) -> None:
    from torchlogit.tutorial.demo import TEST_SIZE, run_demo

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


def _predict(args: argparse.Namespace) -> None:
    """Stream the rows: one block of the input at a time, written as it is predicted."""
    from torchlogit.cli import stream as _cli_stream

    if _cli_stream.predict_wanted(args):  # Parquet output, or a folder / pattern of input files
        _cli_stream.predict(args)
        return
    from torchlogit.data.tabular import iter_feature_batches
    from torchlogit.serving.modelfile import load_model, read_metadata

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


def _check_output(path: str | None) -> None:
    """Fail before any work when an output file cannot be created where asked."""
    if path is not None:
        from torchlogit._fileio import check_writable

        check_writable(path)


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


def _argument_type(parse: Callable[[str], float], accept: Callable[[float], bool], expected: str):
    """An argparse ``type=``: parse the text, check it, or fail naming what was expected."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return convert


_positive_int = _argument_type(int, lambda v: v >= 1, "a positive integer")
_positive_float = _argument_type(float, lambda v: v > 0, "a positive number")  # inf allowed, NaN not
_fraction_closed = _argument_type(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")
_fraction = _argument_type(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
