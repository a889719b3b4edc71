"""A self-contained HTML report of a fitted model on one data set.

One file, no external assets and no JavaScript: the figures are PNG images embedded as base64
``data:`` URIs and the styles are inline, so the file can be mailed or attached and opens the same
anywhere. The first screen holds what a reader came for: a title naming the target and the data,
a headline (rows, classes, the metrics, calibration when available) and the one coefficient
table, with odds ratios (and standard errors, p-values and intervals when an inference result
from :meth:`torchlogit.LogisticRegression.summary` is given). Then the metrics
(:mod:`torchlogit.reporting.evaluation`), the data, the model's settings and the figures
(:mod:`torchlogit.reporting.plots`); the solver's diagnostics sit in a collapsed appendix.
Numbers carry 4 significant digits.

Examples
--------
>>> write_report(clf, X_test, y_test, "report.html", feature_names=names)  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from torchlogit._fileio import atomic_path
from torchlogit._validation import plain
from torchlogit.reporting.evaluation import Evaluation, check_labels, evaluate

__all__ = ["build_report", "write_report"]

_MAX_FEATURE_ROWS = 60  # rows shown in the per-feature summary and coefficient tables

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 24px; color: #1f2328; background: #ffffff; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; margin-top: 1.6em; }
p.meta { color: #57606a; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: right; }
th { background: #f6f8fa; }
td.name, th.name { text-align: left; }
.figures { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; border: 1px solid #d0d7de; padding: 8px; background: #fff; }
figure img { display: block; max-width: 520px; height: auto; }
figcaption { font-size: 0.85em; color: #57606a; margin-top: 4px; max-width: 520px; }
ul.notes { color: #57606a; font-size: 0.9em; }
.row { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
.headline { display: flex; flex-wrap: wrap; gap: 12px; margin: 0.8em 0 0.4em; }
.headline div { border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 14px; background: #f6f8fa; }
.headline b { display: block; font-size: 1.25em; }
.headline span { color: #57606a; font-size: 0.85em; }
details { margin-top: 1.6em; border-top: 1px solid #d0d7de; padding-top: 0.4em; }
summary { cursor: pointer; font-size: 1.1em; color: #57606a; }
"""


def write_report(
    estimator: Any, X: Any, y: Any, path: str | os.PathLike[str], **options: Any,
) -> Path:
    """Write :func:`build_report`'s HTML to ``path`` atomically (no partial file); returns the path."""
    page = build_report(estimator, X, y, **options)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(path)


def build_report(  # noqa: PLR0913 public keyword API of write_report
    estimator: Any, X: Any, y: Any, *, feature_names: Sequence[str] | None = None,
    title: str | None = None, data_name: str | None = None, target: str | None = None,
    threshold: float | None = None, boundary_features: tuple[int, int] | None = None,
    inference: Any = None, model_info: Mapping[str, Any] | None = None,
) -> str:
    """The report as an HTML string.

    Parameters
    ----------
    estimator : a fitted :class:`~torchlogit.LogisticRegression`
    X, y : the data to evaluate on (features in the model's column order, true labels)
    feature_names : names of the columns of ``X`` (default: the estimator's, or x1..xd)
    title, data_name, target : shown in the heading and data summary
    threshold : binary decision threshold in (0, 1), as :func:`torchlogit.reporting.evaluation.evaluate`
    boundary_features : the two column indices of the decision-region figure (default the two
        largest coefficients in absolute value)
    inference : a :class:`~torchlogit.inference.results.LogitResults` (``estimator.summary(X_train,
        y_train)``): adds standard errors, p-values and confidence intervals
    model_info : extra key/value pairs for the fit-settings table (e.g. a model file's metadata)

    Raises
    ------
    ValueError
        As :func:`~torchlogit.reporting.evaluation.evaluate` (unknown labels, bad threshold).
    """
    X = np.asarray(X, dtype=np.float64)
    classes = np.asarray(estimator.classes_)
    y = check_labels(y, classes)
    names = _feature_names(estimator, feature_names, X.shape[1])
    model_X = _model_input(estimator, X)
    result = evaluate(estimator, model_X, y, threshold=threshold)
    proba = np.asarray(estimator.predict_proba(model_X), dtype=np.float64)
    figures, appendix, notes = _figures(_Inputs(
        estimator=estimator, X=X, y=y, proba=proba, result=result, names=names,
        boundary_features=boundary_features, inference=inference,
    ))
    heading = title or _default_title(target, data_name)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(heading)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(heading)}</h1>",
        f'<p class="meta">{_e(_generated())}</p>',
        _headline(result, model_info),
        _coefficient_section(estimator, names, inference),
        _metrics_section(result),
        _data_section(X, y, classes, names, result, data_name, target),
        _fit_section(estimator),
        "<h2>Figures</h2>",
        '<div class="figures">' + "".join(figures) + "</div>",
    ]
    if notes:
        parts.append("<h2>Notes</h2><ul class=\"notes\">" + "".join(f"<li>{_e(n)}</li>" for n in notes)
                     + "</ul>")
    parts.append(_appendix(estimator, model_info, appendix))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _default_title(target: str | None, data_name: str | None) -> str:
    """``Predicting churned from customers.csv``: the target and the data's file name."""
    data = Path(data_name).name if data_name else None
    if target and data:
        return f"Predicting {target} from {data}"
    if target or data:
        return f"Predicting {target}" if target else f"Logistic regression on {data}"
    return "Logistic regression report"


def _model_input(estimator: Any, X: np.ndarray) -> Any:
    """``X`` as the model takes it: a table with the model's column names when it was fitted on a
    DataFrame (scikit-learn warns about plain arrays then), else the array itself."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return X
    import pyarrow as pa

    return pa.table({str(name): X[:, j] for j, name in enumerate(names)})


# --------------------------------------------------------------------------- sections
def _data_section(X: np.ndarray, y: np.ndarray, classes: np.ndarray, names: list[str],
                  result: Evaluation, data_name: str | None, target: str | None) -> str:
    facts = [("rows", f"{X.shape[0]:,}"), ("features", str(X.shape[1]))]
    if data_name:
        facts.insert(0, ("data", data_name))
    if target:
        facts.append(("target", target))
    out = ["<h2>Data</h2>", '<div class="row">',
           _table(["", ""], [[k, v] for k, v in facts], show_header=False)]
    total = max(int(result.class_counts.sum()), 1)
    rows = [[_label(c), f"{n:,}", f"{n / total:.1%}"]
            for c, n in zip(classes, result.class_counts, strict=True)]
    out.append(_table(["class", "rows", "share"], rows))
    shown = names[:_MAX_FEATURE_ROWS]
    stats = [[n, _num(X[:, j].mean()), _num(X[:, j].std()), _num(X[:, j].min()), _num(X[:, j].max())]
             for j, n in enumerate(shown)]
    out.append(_table(["feature", "mean", "std", "min", "max"], stats))
    out.append("</div>")
    if len(names) > len(shown):
        out.append(f"<p>(first {len(shown)} of {len(names)} features shown)</p>")
    return "\n".join(out)


def _headline(result: Evaluation, model_info: Mapping[str, Any] | None) -> str:
    """The key figures in one row of boxes: rows, classes, the metrics on these rows, the accuracies
    recorded at fitting time (a model file's ``train accuracy``/``test accuracy``), calibration."""
    facts = [(f"{result.n_samples:,}", "rows evaluated"), (str(len(result.classes)), "classes")]
    shown = (("accuracy", "accuracy"), ("roc_auc", "ROC AUC"), ("roc_auc_ovr_macro", "ROC AUC (ovr)"),
             ("log_loss", "log-loss"))
    for key, label in shown:
        value = result.metrics.get(key)
        if value is not None:
            facts.append((_num(value), label))
    for key, value in (model_info or {}).items():
        if str(key).replace("_", " ") in ("train accuracy", "test accuracy"):
            facts.append((_num(value), f"{str(key).replace('_', ' ')} at fit"))
    calibration = (getattr(result, "goodness_of_fit", None) or {}).get("calibration")
    if calibration:
        facts.append((_num(calibration["slope"]), "calibration slope (1 is ideal)"))
    hosmer = (getattr(result, "goodness_of_fit", None) or {}).get("hosmer_lemeshow")
    if hosmer:
        facts.append((_num(hosmer["pvalue"]), "Hosmer-Lemeshow p-value"))
    return '<div class="headline">' + "".join(f"<div><b>{_e(v)}</b><span>{_e(k)}</span></div>"
                                              for v, k in facts) + "</div>"


def _fit_section(estimator: Any) -> str:
    """The model's settings and whether its fit converged (the solver's details are in the appendix)."""
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    rows = [[key, _value(params[key])] for key in
            ("penalty", "C", "l1_ratio", "fit_intercept", "class_weight", "solver") if key in params]
    if hasattr(estimator, "converged_"):
        rows.append(["converged", _value(estimator.converged_)])
    return "<h2>Model</h2>\n" + _table(["parameter", "value"], rows)


def _appendix(estimator: Any, model_info: Mapping[str, Any] | None, figures: list[str]) -> str:
    """Developer diagnostics, collapsed: the solver's figures and final state, the model file's details."""
    rows = []
    for label, attr in (("solver used", "solver_"), ("iterations", "n_iter_"), ("converged", "converged_"),
                        ("final objective", "objective_"), ("final max |gradient|", "grad_max_")):
        if hasattr(estimator, attr):
            value = getattr(estimator, attr)
            rows.append([label, _value(value[0] if attr == "n_iter_" else value)])
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    rows += [[key, _value(params[key])] for key in ("tol", "max_iter", "dtype") if key in params]
    rows += [[str(key), _value(value)] for key, value in (model_info or {}).items()]
    return ("<details><summary>Developer diagnostics: the solver and the model file</summary>\n"
            + _table(["fit", "value"], rows) + '<div class="figures">' + "".join(figures)
            + "</div></details>")


def _metrics_section(result: Evaluation) -> str:
    rule = ("the model's own (most probable class)" if result.threshold is None
            else f"predict {_label(result.classes[1])} when its probability ≥ {result.threshold:g}")
    out = ["<h2>Metrics</h2>", f"<p>Decision rule: {_e(rule)}. Computed with scikit-learn.</p>",
           '<div class="row">',
           _table(["metric", "value"], [[k.replace("_", " "), _num(v)] for k, v in result.metrics.items()]),
           "<div>"]
    if result.best_thresholds:
        f1, j = result.best_thresholds["f1"], result.best_thresholds["youden_j"]
        out.append(_table(["best threshold for", "threshold", "value", "details"], [
            ["F1", _num(f1["threshold"]), _num(f1["f1"]),
             f"precision {_num(f1['precision'])}, recall {_num(f1['recall'])}"],
            ["Youden's J (TPR − FPR)", _num(j["threshold"]), _num(j["youden_j"]),
             f"TPR {_num(j['tpr'])}, FPR {_num(j['fpr'])}"],
        ]))
    labels = [_label(c) for c in result.classes]
    rows = [[f"true {c}", *[f"{int(v):,}" for v in row]] for c, row in zip(labels, result.confusion_matrix,
                                                                               strict=True)]
    out.append("<p>Confusion matrix (rows: true class, columns: predicted class)</p>")
    out.append(_table(["", *[f"predicted {c}" for c in labels]], rows))
    out.append("</div></div>")
    return "\n".join(out)


def _coefficient_section(estimator: Any, names: list[str], inference: Any) -> str:
    """The one coefficient table: from ``inference`` when given (standard errors, p-values and
    intervals), else the fitted coefficients; binary models add odds ratios (and their intervals)."""
    classes = np.asarray(estimator.classes_)
    binary = len(classes) == 2
    if inference is not None:
        return _inference_table(inference, names, binary)
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=float))
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=float))
    if binary:
        header = ["term", "coefficient", "odds ratio"]
        rows = [["intercept", _num(intercept[0]), ""]]
        rows += [[n, _num(c), _num(_exp(c))] for n, c in zip(names, coef[0], strict=True)][:_MAX_FEATURE_ROWS]
        note = f"Log-odds of {_label(classes[1])} per unit of each feature; odds ratio = exp(coefficient)."
    else:
        header = ["term", *[f"class {_label(c)}" for c in classes]]
        rows = [["intercept", *[_num(v) for v in intercept]]]
        rows += [[n, *[_num(v) for v in coef[:, j]]] for j, n in enumerate(names[:_MAX_FEATURE_ROWS])]
        note = "Symmetric multinomial coefficients (one column per class, as scikit-learn)."
    return "\n".join(["<h2>Coefficients</h2>", f"<p>{_e(note)}</p>", _table(header, rows),
                      _more_features(names)])


def _inference_table(inference: Any, names: list[str], binary: bool) -> str:
    """The coefficient table of an inference result, with odds ratios and their intervals."""
    table = inference.to_dict()
    level = 1 - float(table.get("alpha", 0.05))
    rows = []
    for r in _inference_rows(inference, names):
        cells = [_value(r.get("class", "")), "intercept" if r["term"] == "const" else _value(r["term"])]
        cells += [_num(r.get(c)) for c in ("coef", "std_err", "z", "p_value", "ci_lower", "ci_upper")]
        if r["term"] != "const":
            cells += [_num(_exp(r.get(c))) for c in ("coef", "ci_lower", "ci_upper")]
        else:
            cells += ["", "", ""]
        rows.append(cells)
    ratio = "odds ratio" if binary else "relative risk ratio"
    header = ["class", "term", "coefficient", "std err", "z", "p-value", "ci lower", "ci upper", ratio,
              f"{ratio} ci lower", f"{ratio} ci upper"]
    contrasts = ""
    if binary:
        header, rows = header[1:], [r[1:] for r in rows]
    else:
        contrasts = f"; each class against the reference class {_value(table.get('reference_class'))}"
    out = ["<h2>Coefficients</h2>",
           f"<p>Inference: {_e(str(table.get('method', '')))}, covariance "
           f"{_e(str(table.get('cov_type', '')))}, {level:.0%} confidence intervals{_e(contrasts)}; "
           f"{ratio} = exp(coefficient).</p>",
           _table(header, rows[: _MAX_FEATURE_ROWS * max(1, len({r[0] for r in rows}))]),
           _more_features(names)]
    notes = table.get("notes") or []
    if notes:
        out.append("<ul class=\"notes\">" + "".join(f"<li>{_e(str(n))}</li>" for n in notes) + "</ul>")
    return "\n".join(out)


def _more_features(names: list[str]) -> str:
    return f"<p>(first {_MAX_FEATURE_ROWS} of {len(names)} features shown)</p>" \
        if len(names) > _MAX_FEATURE_ROWS else ""


def _exp(value: Any) -> float | None:
    if value is None:
        return None
    with np.errstate(over="ignore"):
        return float(np.exp(float(value)))


# --------------------------------------------------------------------------- figures
@dataclass(frozen=True)
class _Inputs:
    """What the figures are drawn from: the model, the evaluated rows and their evaluation."""

    estimator: Any
    X: np.ndarray
    y: np.ndarray
    proba: np.ndarray
    result: Evaluation
    names: list[str]
    boundary_features: tuple[int, int] | None
    inference: Any


_Figure = tuple[str, str, Callable[[Path], Any]]  # (name, caption, draw(path))
_SOLVER_FIGURE = "Solver progress"  # a developer's figure: in the appendix


def _figures(inputs: _Inputs) -> tuple[list[str], list[str], list[str]]:
    """The ``<figure>`` elements (PNG embedded) of the main flow and of the appendix (the solver's
    progress), and the notes on figures left out."""
    jobs, notes = _figure_jobs(inputs)
    out = []
    with tempfile.TemporaryDirectory(prefix="torchlogit-report-") as folder:
        for i, (name, text, draw) in enumerate(jobs):
            png = Path(folder) / f"figure{i}.png"
            draw(png)
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{_e(name)}">'
                       f"<figcaption><b>{_e(name)}.</b> {_e(text)}</figcaption></figure>")
    developer = [k for k, (name, _, _) in enumerate(jobs) if name == _SOLVER_FIGURE]
    return ([f for k, f in enumerate(out) if k not in developer], [out[k] for k in developer], notes)


def _figure_jobs(inputs: _Inputs) -> tuple[list[_Figure], list[str]]:
    """Every figure of the report, in order, and the notes on the ones that cannot be drawn."""
    from torchlogit.reporting import plots

    X, y, proba, names = inputs.X, inputs.y, inputs.proba, inputs.names
    estimator = inputs.estimator
    classes = np.asarray(estimator.classes_)
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=float))
    jobs: list[_Figure] = [
        ("ROC curve", "True against false positive rate as the threshold moves (one-vs-rest per class "
         "for 3+ classes).", lambda p: plots.plot_roc(y, proba, classes, p)),
        ("Precision-recall curve", "Dotted lines: the share of positives (a random model).",
         lambda p: plots.plot_precision_recall(y, proba, classes, p)),
        ("Calibration", "Observed frequency against predicted probability per bin, and how the "
         "predicted probabilities are spread.", lambda p: plots.plot_calibration(y, proba, classes, p)),
        ("Confusion matrix", "Rows: true class; columns: predicted class.",
         lambda p: plots.plot_confusion_matrix(inputs.result.confusion_matrix, classes, p)),
        _coefficient_figure(coef, classes, names, inputs.inference),
    ]
    notes: list[str] = []
    history = getattr(estimator, "history_", None)
    if history:
        jobs.append((_SOLVER_FIGURE, "Objective and max |gradient| per iteration.",
                     lambda p: plots.plot_history(history, p)))
    else:
        notes.append("The solver's per-iteration history is not available (model files written "
                     "before torchlogit stored it lack it), so the convergence figure is omitted.")
    if X.shape[1] >= 2:
        pair = inputs.boundary_features or plots.strongest_pair(coef)
        caption = (f"Predicted classes over {names[pair[0]]} and {names[pair[1]]}"
                   + (", the other features at their mean." if X.shape[1] > 2 else "."))
        jobs.append(("Decision regions", caption, lambda p: plots.plot_decision_regions(
            X, y, coef, estimator.intercept_, classes, p, features=pair, feature_names=names)))
    return jobs, notes


def _coefficient_figure(coef: np.ndarray, classes: np.ndarray, names: list[str], inference: Any) -> _Figure:
    """The coefficient plot of the first features, with confidence intervals from ``inference``."""
    from torchlogit.reporting import plots

    lower = upper = None
    plot_coef, plot_rows = coef, (None if len(classes) == 2 else [str(c) for c in classes])
    caption = "Fitted coefficients (intercept not shown)."
    if inference is not None:
        plot_coef, lower, upper, plot_rows = _inference_arrays(inference, names)
        caption = "Coefficients with confidence intervals (intercept not shown)."
    k = min(len(names), _MAX_FEATURE_ROWS)
    return ("Coefficients", caption, lambda p: plots.plot_coefficients(
        plot_coef[:, :k], names[:k], p, lower=None if lower is None else lower[:, :k],
        upper=None if upper is None else upper[:, :k], class_names=plot_rows))


def _inference_rows(inference: Any, names: list[str]) -> list[dict[str, Any]]:
    """The inference table's rows, feature terms renamed to ``names`` (matched by position).

    Inference tables name features after ``feature_names_in_`` or ``x1..xd``; within each class
    (equation) the terms are the intercept ``const`` (when fitted) followed by the features in
    column order.
    """
    rows = [dict(r) for r in inference.to_dict()["coefficients"]]
    for group in dict.fromkeys(r.get("class", "") for r in rows):
        features = [r for r in rows if r.get("class", "") == group and r["term"] != "const"]
        if len(features) == len(names):
            for r, name in zip(features, names, strict=True):
                r["term"] = name
    return rows


def _inference_arrays(inference: Any, names: list[str]):
    """(coef, lower, upper, row names) of the features from an inference table (intercept dropped)."""
    rows = [r for r in _inference_rows(inference, names) if r["term"] != "const"]
    groups = list(dict.fromkeys(r.get("class", "") for r in rows))
    shape = (len(groups), len(names))
    coef, lower, upper = (np.full(shape, np.nan) for _ in range(3))
    index = {n: j for j, n in enumerate(names)}
    for r in rows:
        g, j = groups.index(r.get("class", "")), index.get(str(r["term"]))
        if j is None:
            continue
        coef[g, j] = _float(r["coef"])
        lower[g, j], upper[g, j] = _float(r["ci_lower"]), _float(r["ci_upper"])
    reference = inference.to_dict().get("reference_class")
    row_names = None if groups == [""] else [f"{g} vs {reference}" for g in groups]
    return coef, lower, upper, row_names


# --------------------------------------------------------------------------- formatting
def _feature_names(estimator: Any, feature_names: Sequence[str] | None, d: int) -> list[str]:
    names = feature_names
    if names is None:
        names = getattr(estimator, "feature_names_in_", None)
    names = [f"x{j + 1}" for j in range(d)] if names is None else [str(n) for n in names]
    if len(names) != d:
        raise ValueError(f"{len(names)} feature names for {d} columns")
    return names


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], *, show_header: bool = True) -> str:
    def cells(tag: str, values: Sequence[Any]) -> str:
        return "<tr>" + "".join(f'<{tag}{" class=name" if i == 0 else ""}>{_e(str(v))}</{tag}>'
                                for i, v in enumerate(values)) + "</tr>"

    head = cells("th", columns) if show_header else ""
    return "<table>" + head + "".join(cells("td", r) for r in rows) + "</table>"


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _num(value: Any) -> str:
    """A number in 4 significant digits (``0.0001234``, ``1.235e+06``); ``n/a`` when undefined."""
    if value is None:
        return "n/a"
    value = float(value)
    if not math.isfinite(value):
        return "n/a" if math.isnan(value) else str(value)
    return f"{value:.4g}"


def _value(value: Any) -> str:
    value = plain(value)
    if isinstance(value, float):
        return _num(value)
    return "none" if value is None else str(value)


def _label(value: Any) -> str:
    return str(plain(value))


def _generated() -> str:
    from torchlogit._version import __version__

    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"Generated {stamp} by torchlogit {__version__}."
