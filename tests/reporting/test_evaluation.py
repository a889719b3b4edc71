"""Evaluation: every metric equals scikit-learn's on the same predictions; thresholds; clear errors; CLI."""

import csv
import json

import numpy as np
import pytest
from sklearn import metrics
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression
from torchlogit.cli.main import main
from torchlogit.reporting.evaluation import best_thresholds, evaluate, evaluate_proba


@pytest.fixture(scope="module")
def binary():
    X, y, _ = make_classification_data(n=240, d=3, seed=3)
    labels = np.array(["no", "yes"])[y]
    return LogisticRegression().fit(X, labels), X, labels


@pytest.fixture(scope="module")
def multinomial():
    X, y, _ = make_classification_data(n=300, d=4, n_classes=3, seed=4)
    return LogisticRegression().fit(X, y), X, y


def test_binary_metrics_equal_sklearn(binary):
    est, X, y = binary
    ev = evaluate(est, X, y)
    proba, pred = est.predict_proba(X), est.predict(X)
    np.testing.assert_array_equal(ev.y_pred, pred)
    expected = {
        "accuracy": metrics.accuracy_score(y, pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, pred),
        "precision": metrics.precision_score(y, pred, pos_label="yes"),
        "recall": metrics.recall_score(y, pred, pos_label="yes"),
        "f1": metrics.f1_score(y, pred, pos_label="yes"),
        "roc_auc": metrics.roc_auc_score(y == "yes", proba[:, 1]),
        "average_precision": metrics.average_precision_score(y == "yes", proba[:, 1]),
        "log_loss": metrics.log_loss(y, proba),
        "brier_score": metrics.brier_score_loss(y, proba[:, 1], pos_label="yes"),
    }
    assert ev.metrics == expected  # exactly: the same scikit-learn calls on the same numbers
    expected_cm = metrics.confusion_matrix(y, pred, labels=["no", "yes"])
    np.testing.assert_array_equal(ev.confusion_matrix, expected_cm)
    assert ev.class_counts.tolist() == [(y == "no").sum(), (y == "yes").sum()]


def test_multinomial_metrics_equal_sklearn_macro_and_weighted(multinomial):
    est, X, y = multinomial
    ev = evaluate(est, X, y)
    proba, pred = est.predict_proba(X), est.predict(X)
    expected = {
        "accuracy": metrics.accuracy_score(y, pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, pred),
        "log_loss": metrics.log_loss(y, proba),
        "brier_score": metrics.brier_score_loss(y, proba, labels=[0, 1, 2]),
    }
    for avg in ("macro", "weighted"):
        expected[f"precision_{avg}"] = metrics.precision_score(y, pred, average=avg)
        expected[f"recall_{avg}"] = metrics.recall_score(y, pred, average=avg)
        expected[f"f1_{avg}"] = metrics.f1_score(y, pred, average=avg)
        expected[f"roc_auc_ovr_{avg}"] = metrics.roc_auc_score(y, proba, multi_class="ovr", average=avg)
        expected[f"average_precision_{avg}"] = metrics.average_precision_score(
            np.eye(3)[y], proba, average=avg)
    assert ev.metrics.keys() == expected.keys()
    for name, value in expected.items():
        assert ev.metrics[name] == pytest.approx(value, rel=1e-12, abs=1e-15), name
    np.testing.assert_array_equal(ev.confusion_matrix, metrics.confusion_matrix(y, pred))
    assert ev.best_thresholds == {}
    json.dumps(ev.to_dict())  # JSON-ready


def test_sample_weights_reach_every_metric(binary):
    est, X, y = binary
    w = np.random.default_rng(0).uniform(0.2, 3, size=len(y))
    ev = evaluate(est, X, y, sample_weight=w)
    pred, p1 = est.predict(X), est.predict_proba(X)[:, 1]
    assert ev.metrics["accuracy"] == metrics.accuracy_score(y, pred, sample_weight=w)
    assert ev.metrics["roc_auc"] == metrics.roc_auc_score(y == "yes", p1, sample_weight=w)
    assert ev.metrics["log_loss"] == metrics.log_loss(y, est.predict_proba(X), sample_weight=w)


def test_threshold_predictions_and_the_best_thresholds_reproduce_their_scores(binary):
    est, X, y = binary
    p1 = est.predict_proba(X)[:, 1]
    ev = evaluate(est, X, y, threshold=0.3)
    pred = np.where(p1 >= 0.3, "yes", "no")
    np.testing.assert_array_equal(ev.y_pred, pred)
    assert ev.metrics["f1"] == metrics.f1_score(y, pred, pos_label="yes")
    assert ev.metrics["roc_auc"] == metrics.roc_auc_score(y == "yes", p1)  # threshold-free

    best = ev.best_thresholds
    at_f1 = evaluate(est, X, y, threshold=best["f1"]["threshold"])
    assert at_f1.metrics["f1"] == pytest.approx(best["f1"]["f1"], rel=1e-12)
    # no threshold does better than the reported one, on a fine grid
    grid_f1 = [metrics.f1_score(y == "yes", p1 >= t) for t in np.linspace(0.01, 0.99, 99)]
    assert max(grid_f1) <= best["f1"]["f1"] + 1e-12
    j = best["youden_j"]
    at_j = evaluate(est, X, y, threshold=j["threshold"]).confusion_matrix
    tpr, fpr = at_j[1, 1] / at_j[1].sum(), at_j[0, 1] / at_j[0].sum()
    assert tpr - fpr == pytest.approx(j["youden_j"], rel=1e-12)
    grid_j = [np.mean(p1[y == "yes"] >= t) - np.mean(p1[y == "no"] >= t) for t in np.linspace(0.01, 0.99, 99)]
    assert max(grid_j) <= j["youden_j"] + 1e-12


def test_a_class_missing_from_the_data_leaves_auc_undefined(binary):
    est, X, y = binary
    keep = y == "yes"
    ev = evaluate(est, X[keep], y[keep])
    assert ev.metrics["roc_auc"] is None and ev.metrics["average_precision"] is None
    assert ev.best_thresholds == {}
    assert ev.to_dict()["metrics"]["roc_auc"] is None


@pytest.mark.parametrize("threshold", [0, 1, -0.2, 1.5, float("nan"), float("inf")])
def test_threshold_outside_the_unit_interval_is_refused(binary, threshold):
    est, X, y = binary
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        evaluate(est, X, y, threshold=threshold)


def test_binary_model_refuses_a_third_label_and_threshold_needs_binary(binary, multinomial):
    est, X, y = binary
    with pytest.raises(ValueError, match=r"label\(s\) \['maybe'\] that the binary model does not know"):
        evaluate(est, X, np.where(np.arange(len(y)) == 5, "maybe", y))
    est3, X3, y3 = multinomial
    with pytest.raises(ValueError, match="binary models"):
        evaluate(est3, X3, y3, threshold=0.5)
    with pytest.raises(ValueError, match="binary model"):
        best_thresholds(y3, est3.predict_proba(X3), est3.classes_)
    with pytest.raises(ValueError, match="shape"):
        evaluate_proba(y3, est3.predict_proba(X3)[:, :2], est3.classes_)


# --------------------------------------------------------------------------- CLI
def _write_csv(path, X, y, target="label"):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*(f"f{j}" for j in range(X.shape[1])), target])
        writer.writerows([*row, label] for row, label in zip(X, y, strict=True))
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate")
    X, y, _ = make_classification_data(n=150, d=3, seed=5)
    data = _write_csv(folder / "data.csv", X, np.array(["no", "yes"])[y])
    model = folder / "m.safetensors"
    assert main(["fit", str(data), "--target", "label", "--out", str(model), "--quiet",
                 "--test-size", "0"]) == 0
    return model, data, X, np.array(["no", "yes"])[y]


def test_cli_evaluate_prints_a_table_and_writes_json_equal_to_the_library(fitted, tmp_path, capsys):
    from torchlogit.serving.modelfile import load_model

    model, data, X, y = fitted
    out = tmp_path / "metrics.json"
    assert main(["evaluate", str(model), str(data), "--target", "label", "--json", str(out),
                 "--threshold", "0.4"]) == 0
    text = capsys.readouterr().out
    assert "roc_auc" in text and "Confusion matrix" in text and "best threshold: F1" in text
    document = json.loads(out.read_text())
    expected = evaluate(load_model(model), X, y, threshold=0.4).to_dict()
    assert document["metrics"] == expected["metrics"]
    assert document["confusion_matrix"] == expected["confusion_matrix"] and document["threshold"] == 0.4


def test_cli_evaluate_reads_parquet_and_writes_plots(fitted, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    model, _, X, y = fitted
    data = tmp_path / "data.parquet"
    pq.write_table(pa.table({"label": y, **{f"f{j}": X[:, j] for j in range(3)}}), data)
    plots = tmp_path / "figures"
    assert main(["evaluate", str(model), str(data), "--target", "label", "--plots", str(plots),
                 "--plot-format", "svg", "--features", "f2,f0"]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert sorted(p.name for p in plots.iterdir()) == [
        "calibration.svg", "coefficients.svg", "confusion_matrix.svg", "decision_regions.svg",
        "history.svg", "precision_recall.svg", "roc.svg"]  # the model file keeps the solver history


@pytest.mark.parametrize("case", ["third label", "threshold", "unwritable", "unknown feature"])
def test_cli_evaluate_errors_are_one_line_and_leave_no_file(fitted, tmp_path, capsys, case):
    model, data, X, y = fitted
    out = tmp_path / "m.json"
    argv = ["evaluate", str(model), str(data), "--target", "label", "--json", str(out)]
    message = {"third label": "that the binary model does not know", "threshold": "strictly between 0 and 1",
               "unwritable": "does not exist", "unknown feature": "unknown feature(s) ['zz']"}[case]
    if case == "third label":
        argv[2] = str(_write_csv(tmp_path / "three.csv", X, np.where(np.arange(len(y)) == 0, "maybe", y)))
    elif case == "threshold":
        argv += ["--threshold", "1.5"]
    elif case == "unwritable":
        argv[-1] = str(tmp_path / "no-such-folder" / "m.json")
    else:
        argv += ["--plots", str(tmp_path / "plots"), "--features", "f0,zz"]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("torchlogit: error: ") and message in err and err.count("\n") == 1
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# --------------------------------------------------------------------------- a case worked by hand
# Six rows, positive class "yes". P(yes) = [.9, .7, .6, .3 | .65, .55]: the first four are "yes",
# the last two "no". At 0.5 the prediction is yes, yes, yes, no | yes, yes:
# TP = 3, FN = 1, FP = 2, TN = 0.
HAND_Y = np.array(["yes", "yes", "yes", "yes", "no", "no"])
HAND_P_YES = np.array([0.9, 0.7, 0.6, 0.3, 0.65, 0.55])
HAND_PROBA = np.column_stack([1 - HAND_P_YES, HAND_P_YES])


def test_binary_metrics_of_six_rows_worked_by_hand():
    ev = evaluate_proba(HAND_Y, HAND_PROBA, ["no", "yes"])
    np.testing.assert_array_equal(ev.y_pred, ["yes", "yes", "yes", "no", "yes", "yes"])
    np.testing.assert_array_equal(ev.confusion_matrix, [[0, 2], [1, 3]])  # rows: true no, true yes
    assert ev.class_counts.tolist() == [2, 4] and ev.n_samples == 6
    p_true = np.array([0.9, 0.7, 0.6, 0.3, 0.35, 0.45])  # the probability of each row's own label
    expected = {
        "accuracy": 3 / 6,
        "balanced_accuracy": (3 / 4 + 0 / 2) / 2,  # mean recall of "yes" and of "no"
        "precision": 3 / 5,
        "recall": 3 / 4,
        "f1": 2 * (3 / 5) * (3 / 4) / (3 / 5 + 3 / 4),  # = 2/3
        # of the 4 x 2 (yes, no) pairs, 5 rank the "yes" row higher: .9 > both, .7 > both, .6 > .55
        "roc_auc": 5 / 8,
        # precision at each new "yes" in descending score order: 1/1, 2/2, 3/4, 4/6
        "average_precision": (1 + 1 + 3 / 4 + 4 / 6) / 4,
        "log_loss": -np.log(p_true).mean(),
        "brier_score": np.mean((HAND_P_YES - [1, 1, 1, 1, 0, 0]) ** 2),  # = 1.475 / 6
    }
    assert ev.metrics.keys() == expected.keys()
    for name, value in expected.items():
        assert ev.metrics[name] == pytest.approx(value, rel=1e-12), name
    # F1 over the thresholds (0.9, 0.7, 0.65, 0.6, 0.55, 0.3): .4, 2/3, 4/7, 3/4, 2/3, 4/5;
    # Youden's J: .25, .5, 0, .25, -.25, 0
    best = ev.best_thresholds
    assert best["f1"] == pytest.approx({"threshold": 0.3, "f1": 0.8, "precision": 4 / 6, "recall": 1.0})
    assert best["youden_j"] == pytest.approx({"threshold": 0.7, "youden_j": 0.5, "tpr": 0.5, "fpr": 0.0})


def test_a_threshold_and_row_weights_worked_by_hand():
    at_07 = evaluate_proba(HAND_Y, HAND_PROBA, ["no", "yes"], threshold=0.7)  # yes, yes, then no
    np.testing.assert_array_equal(at_07.confusion_matrix, [[2, 0], [2, 2]])
    assert at_07.metrics["accuracy"] == pytest.approx(4 / 6)
    assert at_07.metrics["precision"] == 1.0 and at_07.metrics["recall"] == 0.5
    weights = np.array([1, 1, 1, 1, 2, 2])  # the two wrongly predicted "no" rows count twice
    weighted = evaluate_proba(HAND_Y, HAND_PROBA, ["no", "yes"], sample_weight=weights)
    assert weighted.metrics["accuracy"] == pytest.approx(3 / 8)
    assert weighted.metrics["precision"] == pytest.approx(3 / 7)
    assert weighted.metrics["log_loss"] == pytest.approx(
        -(np.log([0.9, 0.7, 0.6, 0.3]).sum() + 2 * np.log([0.35, 0.45]).sum()) / 8, rel=1e-12)
    np.testing.assert_array_equal(weighted.confusion_matrix, [[0, 4], [1, 3]])
