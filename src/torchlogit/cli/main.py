"""Command-line interface: ``torchlogit demo | fit | predict | evaluate | report | export``.

This module builds the argument parser, dispatches to the command modules (:mod:`.demo`,
:mod:`.fit` and :mod:`.stream`, :mod:`.predict`, :mod:`.evaluate`) and turns their errors into
exit statuses: one line on stderr and status 1 (argparse's usage errors exit 2). It imports the
command modules, never the reverse; :mod:`._output` is the one printer they all share. The command
modules import their heavy dependencies inside the handlers, so ``torchlogit --help`` starts fast.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence

from torchlogit._exceptions import ModelFileError
from torchlogit.cli import _output, demo, evaluate, fit, predict


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv``; return the exit status (0, 1 for an error, 2 for bad arguments).

    Every failure leaves one line on stderr: ``torchlogit: error: ...`` for the errors the commands
    raise (``ValueError``, ``TypeError``, ``OSError``, ``ModelFileError``), argparse's usage and
    error lines for arguments it refuses.
    """
    try:
        args = main_parser().parse_args(argv)
    except SystemExit as stop:  # argparse printed the help (0) or its usage and one error line (2)
        return stop.code if isinstance(stop.code, int) else 2
    try:
        with _output.warnings_to_stderr():
            args.handler(args)
    except BrokenPipeError:  # e.g. `torchlogit predict ... | head`: the reader left
        _output.abandon_stdout()
        return 0
    except (ValueError, TypeError, OSError, ModelFileError) as exc:
        _output.error(exc)
        return 1
    except KeyboardInterrupt:
        _output.interrupted()
        return 130
    return 0


def entrypoint() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format=f"{_output.PROG}: %(message)s")
    code = main()
    # Only a command that imported torchlogit.distributed can have a process group (importing it
    # here would cost `--help` the seconds of importing torch). A peer died: skip the broken
    # group's destructors, which may abort.
    distributed = sys.modules.get("torchlogit.distributed")
    if distributed is not None and distributed.group_broken():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


# --------------------------------------------------------------------------- the parser
def main_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand; each sets ``handler``, the function running it."""
    parser = argparse.ArgumentParser(
        prog=_output.PROG,
        description="Logistic regression on PyTorch: the tutorial, and exact fast solvers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = (
        ("demo", "the tutorial end to end on embedded 2-D data, with figures", _demo_arguments, demo.demo),
        ("fit", "fit a model to CSV or Parquet data and save it", _fit_arguments, fit.fit),
        ("predict", "predict labels and probabilities for a CSV file", _predict_arguments, predict.predict),
        ("evaluate", "metrics of a model on labelled data (and plots)", _evaluate_arguments,
         evaluate.evaluate),
        ("report", "a self-contained HTML report: data, fit, metrics, figures", _report_arguments,
         evaluate.report),
        ("export", "export a model for serving (ONNX, TorchScript, torch.export)", _export_arguments,
         evaluate.export),
    )
    for name, summary, add_arguments, handler in commands:
        command = sub.add_parser(name, help=summary)
        add_arguments(command)
        command.set_defaults(handler=handler)
    return parser


def _demo_arguments(command: argparse.ArgumentParser) -> None:
    """``demo``: where the figures go, the optimizer and its settings."""
    add = command.add_argument
    add("--out", default="torchlogit-demo", help="folder for the PNG figures")
    add("--optimizer", choices=["newton", "sgd", "adam"], default="newton",
        help="newton: exact optimum in milliseconds (default); sgd/adam: the tutorial's epoch loop")
    add("--epochs", type=_positive_int, default=1000, help="epochs for sgd/adam")
    add("--lr", type=_positive_float, default=None,
        help="learning rate for sgd/adam (default 0.5 for sgd, 0.1 for adam)")
    add("--C", type=_positive_float, default=1.0, help="inverse penalty strength")
    add("--seed", type=int, default=0, help="seed of the model's initial weights")
    add("--quiet", action="store_true", help="no progress bar or periodic printing")


def _fit_arguments(command: argparse.ArgumentParser) -> None:
    """``fit``: the data, the model file, the solver, the split, inference and streaming."""
    add = command.add_argument
    add("data", nargs="+", help="a CSV file with a header row (read into memory), or "
                                "Parquet/CSV files, folders or glob patterns (streamed)")
    _target_argument(command)
    add("--out", default="model.safetensors", help="model file to write")
    _solver_arguments(command)
    add("--test-size", type=_fraction, default=None,
        help="fraction held out for the test accuracy (default 0.33; 0 to train on everything); "
             "in-memory fits only")
    add("--seed", type=int, default=42, help="seed of the train/test split")
    add("--device", default="cpu", help="cpu, cuda or auto")
    add("--dtype", choices=["float64", "float32"], default="float64")
    add("--quiet", action="store_true", help="no progress bar")
    _inference_arguments(command.add_argument_group(
        "statistical inference (as statsmodels' Logit.summary)"))
    _streaming_arguments(command.add_argument_group(
        "streaming and distributed fits (Parquet, several files, torchrun)"))


def _solver_arguments(command: argparse.ArgumentParser) -> None:
    """``fit``: the solver, the penalty, cross-validation of C, and the stopping rule."""
    add = command.add_argument
    add("--solver", choices=["auto", "newton", "lbfgs", "sgd", "adam", "prox_newton"], default=None,
        help="default auto (exact); sgd/adam run the tutorial's loop")
    add("--optimizer", choices=["sgd", "adam"], default=None,
        help="the tutorial's optimizer (same as --solver sgd|adam)")
    add("--penalty", choices=["l2", "l1", "elasticnet", "none"], default=None,
        help="default l2; l1/elasticnet: sparse models (proximal Newton); not with --firth")
    add("--l1-ratio", type=_fraction_closed, default=None,
        help="elastic-net mixing in [0, 1] (1 = l1), needed for --penalty elasticnet")
    add("--C", type=_inverse_penalty, default=1.0, help="inverse penalty strength")
    add("--cv", type=_positive_int, default=None, metavar="K",
        help="choose C by K-fold cross-validation (log-loss) instead of --C")
    add("--Cs", type=_positive_int, default=10, help="with --cv: how many values of C to try (a log grid)")
    add("--cv-plot", default=None,
        help="with --cv: PNG of the CV curve (default: next to --out, ending -cv.png)")
    add("--epochs", "--max-iter", dest="max_iter", type=_positive_int, default=None,
        help="iterations (epochs for sgd/adam); default 100, or 1000 for sgd/adam")
    add("--lr", type=_positive_float, default=0.1, help="learning rate for sgd/adam")
    add("--batch-size", type=_positive_int, default=None,
        help="mini-batch size for sgd/adam (default: full batch)")
    add("--tol", type=_positive_float, default=1e-8, help="stop at max |gradient| <= tol")


def _inference_arguments(group: argparse._ArgumentGroup) -> None:
    """``fit --summary``: standard errors, covariance type, Firth's fit, confidence level."""
    add = group.add_argument
    add("--summary", action="store_true",
        help="print standard errors, z, p-values, intervals and fit statistics, and write them as JSON "
             "beside the model (MODEL.summary.json); needs --penalty none (or --firth)")
    add("--cov", default="nonrobust", metavar="TYPE",
        help="covariance: nonrobust (default), robust (HC0), HC1, or cluster:COLUMN")
    add("--firth", action="store_true",
        help="Firth's bias-reduced fit (finite estimates under separation; binary)")
    add("--alpha", type=_fraction, default=0.05, help="1 - confidence level")


def _streaming_arguments(group: argparse._ArgumentGroup) -> None:
    """``fit`` over files read in chunks: chunk size, columns, memory mapping, checkpoints, torchrun."""
    add = group.add_argument
    add("--chunk-rows", type=_positive_int, default=None,
        help="rows per chunk read from disk (default 65536): memory is bounded by this")
    add("--features", default=None, metavar="A,B,...",
        help="feature columns (default: every column but the target and weight)")
    add("--weight", default=None, help="column of sample weights")
    add("--memory-map", action="store_true",
        help="map Parquet files instead of reading them: about 10%% faster passes; "
             "a file changed during the fit then ends it with a bus error")
    add("--checkpoint", default=None, metavar="DIR",
        help="save the solver state here after every iteration; the same command run again resumes from it")
    add("--checkpoint-every", type=_positive_int, default=None, metavar="N",
        help="sgd/adam: also save the state every N mini-batches")
    add("--dist-timeout", type=_positive_float, default=600.0, metavar="SECONDS",
        help="under torchrun: how long a rank waits for the others before failing")


def _predict_arguments(command: argparse.ArgumentParser) -> None:
    """``predict``: the model, the rows to predict, where to write them."""
    add = command.add_argument
    _model_argument(command)
    add("data", help="CSV or Parquet file, folder or glob pattern with the model's feature columns "
                     "(streamed)")
    add("--out", default=None,
        help="file to write: Parquet for .parquet/.pq, CSV otherwise (default: CSV on standard output); "
             "never the model or an input")
    add("--proba", action="store_true",
        help="also write the probability of every class (columns proba_<class>)")
    command.set_defaults(quiet=False)  # no --quiet flag: the bar shows on a terminal only


def _evaluate_arguments(command: argparse.ArgumentParser) -> None:
    """``evaluate``: the model, labelled data, the decision threshold, JSON and figures."""
    add = command.add_argument
    _labelled_data_arguments(command)
    add("--threshold", type=float, default=None,
        help="binary models: predict the second class when its probability is >= this, in (0, 1) "
             "(default: the most probable class)")
    add("--json", default=None, metavar="FILE", help="also write the metrics as JSON")
    add("--plots", default=None, metavar="DIR",
        help="write ROC, precision-recall, calibration, confusion-matrix, coefficient and "
             "decision-region figures to this folder")
    add("--plot-format", choices=["png", "svg"], default="png")
    add("--features", default=None, metavar="A,B",
        help="the two features of the decision-region figure (default: the two with the largest "
             "coefficients)")


def _report_arguments(command: argparse.ArgumentParser) -> None:
    """``report``: the model, labelled data, the HTML file and what it shows."""
    add = command.add_argument
    _labelled_data_arguments(command)
    add("--out", default="report.html", help="HTML file to write")
    add("--threshold", type=float, default=None, help="as for `evaluate`")
    add("--features", default=None, metavar="A,B", help="as for `evaluate`")
    add("--title", default=None, help="heading of the report")
    add("--ci", action="store_true",
        help="DATA is the data the model was fitted on: add standard errors, p-values and confidence "
             "intervals computed from it")


def _export_arguments(command: argparse.ArgumentParser) -> None:
    """``export``: the model, the serving format, the file and its precision."""
    add = command.add_argument
    _model_argument(command)
    add("--format", choices=["onnx", "torchscript", "pt2"], default="onnx",
        help="onnx (onnxruntime etc.), torchscript (torch.jit.load) or pt2 (torch.export.load); "
             "default onnx")
    add("--out", required=True, help="file to write")
    add("--dtype", choices=["float64", "float32"], default="float64",
        help="input and arithmetic precision of the exported model")


def _model_argument(parser: argparse.ArgumentParser) -> None:
    """``MODEL``, the model file every command but ``demo`` and ``fit`` reads."""
    parser.add_argument("model", help="model file written by `torchlogit fit`")


def _target_argument(parser: argparse.ArgumentParser) -> None:
    """``--target COLUMN``, the labels of ``fit``, ``evaluate`` and ``report``."""
    parser.add_argument("--target", required=True, help="name of the label column")


def _labelled_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``MODEL DATA --target COLUMN``, as ``evaluate`` and ``report`` take them."""
    _model_argument(parser)
    parser.add_argument("data", help="CSV or Parquet (.parquet) file with the features and the labels")
    _target_argument(parser)


# --------------------------------------------------------------------------- argument types
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
# NaN fails every comparison, so these refuse it as they refuse infinity
_positive_float = _argument_type(float, lambda v: 0 < v < math.inf, "a positive finite number")
_inverse_penalty = _argument_type(float, lambda v: 0 < v < math.inf,
                                  "a positive finite number (no penalty: --penalty none)")
_fraction_closed = _argument_type(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")
_fraction = _argument_type(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
