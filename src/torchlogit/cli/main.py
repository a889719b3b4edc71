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
from typing import Any

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
        for old, new in dict.fromkeys(args.deprecations):  # after the command: a failure stays one line
            _output.deprecated(old, new)
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
    from torchlogit._version import __version__

    parser = argparse.ArgumentParser(
        prog=_output.PROG,
        description="Logistic regression on PyTorch: the tutorial, and exact fast solvers.",
    )
    parser.add_argument("--version", action="version", version=f"{_output.PROG} {__version__}")
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
        command = sub.add_parser(name, help=summary, description=summary)
        add_arguments(command)
        command.set_defaults(handler=handler, deprecations=[])
    return parser


class _DeprecatedAlias(argparse.Action):
    """An option's old name, kept for one release: stores into the new option's destination(s) and
    records ``(old, new)`` so the command prints one deprecation line after it succeeds.

    ``convert`` turns the old option's value into the new one's (``--alpha 0.05`` is
    ``--confidence 0.95``); ``also`` names more destinations set to the same value.
    """

    def __init__(self, option_strings: list[str], dest: str, *, new: str,
                 convert: Callable[[Any], Any] | None = None, also: tuple[str, ...] = (), **kwargs: Any):
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.new, self.convert, self.also = new, convert, also

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        value = values if self.convert is None else self.convert(values)
        for dest in (self.dest, *self.also):
            setattr(namespace, dest, value)
        namespace.deprecations = [*getattr(namespace, "deprecations", []), (option_string, self.new)]


def _progress_arguments(command: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``--progress``: whether the progress line is drawn on standard error."""
    add = command.add_argument
    add("--quiet", action="store_true", help="no progress line")
    add("--progress", action="store_true",
        help="draw the progress line even when standard error is not a terminal (default: only on a "
             "terminal; a log file gets a plain line a second)")


def _demo_arguments(command: argparse.ArgumentParser) -> None:
    """``demo``: where the figures go, the solver and its settings."""
    add = command.add_argument
    add("--out", default="torchlogit-demo", help="folder for the PNG figures (default: %(default)s)")
    add("--solver", choices=["newton", "sgd", "adam"], default="newton",
        help="newton: exact optimum in milliseconds (default); sgd/adam: the tutorial's epoch loop")
    add("--optimizer", dest="solver", choices=["newton", "sgd", "adam"], action=_DeprecatedAlias,
        new="--solver")
    add("--epochs", "--max-iter", dest="max_iter", type=_positive_int, default=1000,
        help="epochs for sgd/adam (default: %(default)s)")
    add("--lr", type=_positive_float, default=None,
        help="learning rate for sgd/adam (default: 0.5 for sgd, 0.1 for adam)")
    add("--C", type=_positive_float, default=1.0, help="inverse penalty strength (default: %(default)s)")
    add("--random-state", type=int, default=0,
        help="seed of the model's initial weights and the mini-batch order (default: %(default)s)")
    add("--seed", dest="random_state", type=int, action=_DeprecatedAlias, new="--random-state")
    _progress_arguments(command)


def _fit_arguments(command: argparse.ArgumentParser) -> None:
    """``fit``: the data and its columns, the model file, the solver, the split, inference, streaming."""
    add = command.add_argument
    add("data", nargs="+", help="a CSV file with a header row (read into memory), or "
                                "Parquet/CSV files, folders or glob patterns (streamed)")
    _column_arguments(command)
    add("--out", default="model.safetensors",
        help="model file to write, replaced if it exists (default: %(default)s in the current folder)")
    _solver_arguments(command)
    add("--test-size", type=_fraction, default=None,
        help="fraction held out for the test accuracy (default: 0.33; 0 to train on everything); "
             "one CSV file read into memory only")
    add("--split-seed", type=int, default=42, help="seed of the train/test split (default: %(default)s)")
    add("--seed", dest="split_seed", type=int, action=_DeprecatedAlias, new="--split-seed and --random-state",
        also=("random_state",))
    add("--random-state", type=int, default=0,
        help="seed of sgd/adam's initial weights and mini-batch order (default: %(default)s)")
    add("--device", default="cpu", help="cpu, cuda or auto (default: %(default)s)")
    add("--dtype", choices=["float64", "float32"], default="float64", help="default: %(default)s")
    _progress_arguments(command)
    _inference_arguments(command.add_argument_group(
        "statistical inference (as statsmodels' Logit.summary)"))
    _streaming_arguments(command.add_argument_group(
        "streaming and distributed fits (Parquet, several files, torchrun)"))


def _column_arguments(command: argparse.ArgumentParser) -> None:
    """``fit``: which columns are the target, the features and the weights."""
    _target_argument(command)
    add = command.add_argument
    add("--features", default=None, metavar="A,B,...",
        help="feature columns, in this order (default: every column but the target, the weight and a "
             "cluster column)")
    add("--exclude", default=None, metavar="A,B,...",
        help="columns that are not features, e.g. an id (default: none)")
    add("--weight", default=None, help="column of sample weights (default: every row weighs 1)")


def _solver_arguments(command: argparse.ArgumentParser) -> None:
    """``fit``: the solver, the penalty, class weights, cross-validation of C, the stopping rule."""
    add = command.add_argument
    add("--solver", choices=["auto", "newton", "newton_cg", "lbfgs", "sgd", "adam", "prox_newton"],
        default=None, help="default: auto (exact: newton, newton_cg or lbfgs by cost, prox_newton for "
                           "l1/elasticnet); sgd/adam run the tutorial's loop")
    add("--optimizer", choices=["sgd", "adam"], default=None, action=_DeprecatedAlias, new="--solver")
    add("--penalty", choices=["l2", "l1", "elasticnet", "none"], default=None,
        help="default: l2; l1/elasticnet: sparse models (proximal Newton); not with --firth")
    add("--l1-ratio", type=_fraction_closed, default=None,
        help="elastic-net mixing in [0, 1] (1 = l1), needed for --penalty elasticnet (default: none)")
    add("--C", type=_inverse_penalty, default=None,
        help="inverse penalty strength (default: 1; ignored, with a warning, by --penalty none, --firth "
             "and --cv)")
    add("--class-weight", default=None, metavar="balanced|JSON",
        help="weights of the classes: 'balanced' (inverse class frequencies) or a JSON object such as "
             "'{\"yes\": 3}' (default: every class weighs 1)")
    add("--cv", type=_positive_int, default=None, metavar="K",
        help="choose C by K-fold cross-validation (log-loss) instead of --C (default: off)")
    add("--Cs", type=_positive_int, default=10,
        help="with --cv: how many values of C to try on a log grid (default: %(default)s)")
    add("--cv-plot", default=None,
        help="with --cv: PNG of the CV curve (default: next to --out, ending -cv.png)")
    add("--epochs", "--max-iter", dest="max_iter", type=_positive_int, default=None,
        help="iterations (epochs for sgd/adam) (default: 100, or 1000 for sgd/adam)")
    add("--lr", type=_positive_float, default=0.1, help="learning rate for sgd/adam (default: %(default)s)")
    add("--batch-size", type=_positive_int, default=None,
        help="mini-batch size for sgd/adam (default: full batch)")
    add("--tol", type=_positive_float, default=1e-8,
        help="stop at max |gradient| <= tol (default: %(default)g)")


def _inference_arguments(group: argparse._ArgumentGroup) -> None:
    """``fit --summary``: standard errors, covariance type, Firth's fit, confidence level."""
    add = group.add_argument
    add("--summary", action="store_true",
        help="print standard errors, z, p-values, intervals and fit statistics, and write them as JSON "
             "beside the model (MODEL.summary.json); needs --penalty none (or --firth)")
    add("--cov", default="nonrobust", metavar="TYPE",
        help="covariance: nonrobust, robust (HC0), HC1, HC2, HC3, cluster:COLUMN or cluster:A,B "
             "(two-way) (default: %(default)s)")
    add("--firth", action="store_true",
        help="Firth's bias-reduced fit (finite estimates under separation; binary)")
    add("--confidence", type=_open_fraction, default=0.95,
        help="confidence level of the intervals (default: %(default)s)")
    add("--alpha", dest="confidence", type=_open_fraction, action=_DeprecatedAlias, new="--confidence",
        convert=lambda alpha: 1 - alpha)


def _streaming_arguments(group: argparse._ArgumentGroup) -> None:
    """``fit`` over files read in chunks: chunk size, memory mapping, checkpoints, torchrun."""
    add = group.add_argument
    add("--chunk-rows", type=_positive_int, default=None,
        help="rows per chunk read from disk (default: 65536): memory is bounded by this")
    add("--memory-map", action="store_true",
        help="map Parquet files instead of reading them: about 10%% faster passes; "
             "a file changed during the fit then ends it with a bus error")
    add("--checkpoint", default=None, metavar="DIR",
        help="save the solver state here after every iteration; the same command run again resumes "
             "from it; another fit needs another folder (default: none)")
    add("--checkpoint-every", type=_positive_int, default=None, metavar="N",
        help="sgd/adam: also save the state every N mini-batches (default: once per epoch)")
    add("--dist-timeout", type=_positive_float, default=600.0, metavar="SECONDS",
        help="under torchrun: how long a rank waits for the others before failing (default: %(default)g)")


def _predict_arguments(command: argparse.ArgumentParser) -> None:
    """``predict``: the model, the rows to predict, the decision threshold, where to write them."""
    add = command.add_argument
    _model_argument(command)
    add("data", help="CSV or Parquet file, folder or glob pattern with the model's feature columns "
                     "(streamed)")
    add("--out", default=None,
        help="file to write: Parquet for .parquet/.pq, CSV otherwise (default: CSV on standard output); "
             "never the model or an input")
    add("--proba", action="store_true",
        help="also write the probability of every class (columns proba_<class>)")
    _threshold_argument(command)
    _progress_arguments(command)


def _threshold_argument(command: argparse.ArgumentParser) -> None:
    """``--threshold``: the decision rule of binary models (``predict``, ``evaluate``, ``report``)."""
    command.add_argument("--threshold", type=float, default=None,
                         help="binary models: predict the second class when its probability is >= this, "
                              "in (0, 1) (default: the most probable class)")


def _region_arguments(command: argparse.ArgumentParser) -> None:
    """``--region-features A,B``: the axes of the decision-region figure (``evaluate``, ``report``)."""
    add = command.add_argument
    add("--region-features", default=None, metavar="A,B",
        help="the two features of the decision-region figure (default: the two with the largest "
             "coefficients)")
    add("--features", dest="region_features", action=_DeprecatedAlias, new="--region-features")


def _evaluate_arguments(command: argparse.ArgumentParser) -> None:
    """``evaluate``: the model, labelled data, the decision threshold, JSON and figures."""
    add = command.add_argument
    _labelled_data_arguments(command)
    _threshold_argument(command)
    add("--json", default=None, metavar="FILE", help="also write the metrics as JSON (default: none)")
    add("--plots", default=None, metavar="DIR",
        help="write ROC, precision-recall, calibration, confusion-matrix, coefficient and "
             "decision-region figures to this folder (default: none)")
    add("--plot-format", choices=["png", "svg"], default="png", help="default: %(default)s")
    _region_arguments(command)


def _report_arguments(command: argparse.ArgumentParser) -> None:
    """``report``: the model, labelled data, the HTML file and what it shows."""
    add = command.add_argument
    _labelled_data_arguments(command)
    add("--out", default="report.html", help="HTML file to write, replaced if it exists "
                                             "(default: %(default)s in the current folder)")
    _threshold_argument(command)
    _region_arguments(command)
    add("--title", default=None, help="heading of the report (default: the data file and the target)")
    add("--ci", action="store_true",
        help="DATA is the data the model was fitted on: add standard errors, p-values and confidence "
             "intervals computed from it")


def _export_arguments(command: argparse.ArgumentParser) -> None:
    """``export``: the model, the serving format, the file and its precision."""
    add = command.add_argument
    _model_argument(command)
    add("--format", choices=["onnx", "torchscript", "pt2"], default="onnx",
        help="onnx (onnxruntime etc.), torchscript (torch.jit.load) or pt2 (torch.export.load) "
             "(default: %(default)s)")
    add("--out", required=True, help="file to write")
    add("--dtype", choices=["float64", "float32"], default="float64",
        help="input and arithmetic precision of the exported model (default: %(default)s)")


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
_open_fraction = _argument_type(float, lambda v: 0 < v < 1, "a number in (0, 1)")
