"""Evaluation: every metric equals scikit-learn's on the same predictions; thresholds; clear errors; CLI;
goodness of fit and calibration against R (tests/reference/hyp_gof.R) and statsmodels."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn import metrics
from support.synthetic import make_classification_data

from torchlogit import LogisticRegression
from torchlogit.cli.main import main
from torchlogit.reporting.evaluation import (
    best_thresholds,
    evaluate,
    evaluate_proba,
    hosmer_lemeshow,
    le_cessie_van_houwelingen,
    logistic_calibration,
)


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
                 "--plot-format", "svg", "--region-features", "f2,f0"]) == 0
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
        argv += ["--plots", str(tmp_path / "plots"), "--region-features", "f0,zz"]
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


# --------------------------------------------------------------------------- goodness of fit, calibration
# printed by tests/reference/hyp_gof.R (R 4.2.2, rms 6.5-0; hoslem.test of ResourceSelection 0.3-5)
HL_G10_STAT_DF_P = [8.82187874324515, 8, 0.357544300808779]
HL_G5_STAT_DF_P = [7.38514650558674, 3, 0.0605841400336438]
HL_TIES_STAT_GROUPS = [5.97948359645472, 7]
HL_TIES_P_ON_GROUPS_MINUS_2 = [0.308220376254919]
HL_TIES_CELL_ROUND_X1 = [-3, -2, -2, -1, -1, -0, 0, 1, 1, 2, 2]
HL_TIES_CELL_X4 = [0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
HL_TIES_CELL_PROBA = [0.167588564206465, 0.235436193076863, 0.2684159209928, 0.320186203419551,
                      0.359456215249938, 0.418735392226187, 0.461880172359167, 0.524226624154412,
                      0.567626431989629, 0.627599367660533, 0.667549570745255]
GOF_SSE_EV_SD_Z_P = [41.3945784893138, 40.9803412993538, 0.218094491847126, 1.89934732625144,
                     0.0575188241947874]
VALPROB_INTERCEPT_SLOPE = [0.47976207564512, 0.773759642268226]
CITL_INTERCEPT = [0.56473476366453]
GOF_RTOL = 1e-6


@pytest.fixture(scope="module")
def reference_data():
    import pandas as pd

    return pd.read_csv(Path(__file__).parent.parent / "reference" / "hyp_data.csv")


def _sm_proba(y, X, X_new):
    sm = pytest.importorskip("statsmodels.api")
    fit = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)
    return np.asarray(fit.predict(sm.add_constant(X_new, has_constant="add")))


@pytest.fixture(scope="module")
def fitted_proba(reference_data):
    X, y = reference_data[["x1", "x2", "x3", "x4"]], reference_data["y"].to_numpy()
    return X, y, _sm_proba(y, X, X)


@pytest.mark.parametrize(("groups", "expected"), [(10, HL_G10_STAT_DF_P), (5, HL_G5_STAT_DF_P)])
def test_hosmer_lemeshow_matches_r_hoslem_test(fitted_proba, groups, expected):
    _, y, p = fitted_proba
    hl = hosmer_lemeshow(y, p, groups=groups)
    assert_allclose([hl.statistic, hl.df, hl.pvalue], expected, rtol=GOF_RTOL)
    assert hl.groups == groups and hl.counts.sum() == len(y) and hl.observed.sum() == y.sum()


def test_hosmer_lemeshow_ties_share_a_group_as_in_r(reference_data):
    cell_keys = zip(HL_TIES_CELL_ROUND_X1, HL_TIES_CELL_X4, strict=True)
    cells = dict(zip(cell_keys, HL_TIES_CELL_PROBA, strict=True))
    keys = zip(np.round(reference_data["x1"]).astype(int), reference_data["x4"], strict=True)
    p = np.array([cells[key] for key in keys])
    hl = hosmer_lemeshow(reference_data["y"], p)
    assert hl.statistic == pytest.approx(HL_TIES_STAT_GROUPS[0], rel=GOF_RTOL)
    assert hl.groups == HL_TIES_STAT_GROUPS[1] and hl.df == hl.groups - 2  # hoslem.test keeps 10 - 2
    assert hl.pvalue == pytest.approx(HL_TIES_P_ON_GROUPS_MINUS_2[0], rel=GOF_RTOL)


def test_hosmer_lemeshow_on_six_rows_worked_by_hand():
    # R's type-7 tertiles of p are 0.1, 1/3·0.2 + 2/3·0.4, 0.5 + 1/3·0.2, 0.9: groups {.1,.2} {.4,.5} {.7,.9}
    p = np.array([0.1, 0.2, 0.4, 0.5, 0.7, 0.9])
    y = np.array([0, 0, 1, 0, 1, 1])
    hl = hosmer_lemeshow(y, p, groups=3)
    # per group (O − E)² / E over positives and negatives: E₁ = .3, .9, 1.6 and E₀ = 1.7, 1.1, .4
    expected = 0.09 / 0.3 + 0.09 / 1.7 + 0.01 / 0.9 + 0.01 / 1.1 + 0.16 / 1.6 + 0.16 / 0.4
    assert hl.statistic == pytest.approx(expected, rel=1e-12)
    assert hl.df == 1 and hl.pvalue == pytest.approx(math.erfc(math.sqrt(expected / 2)), rel=1e-12)
    assert_allclose(hl.expected, [0.3, 0.9, 1.6], rtol=1e-12)


def test_le_cessie_van_houwelingen_matches_rms(fitted_proba):
    X, y, p = fitted_proba
    for design in (X, sp.csr_matrix(X.to_numpy())):
        t = le_cessie_van_houwelingen(y, p, design)
        assert_allclose([t.sse, t.expected, t.sd, t.statistic, t.pvalue], GOF_SSE_EV_SD_Z_P, rtol=GOF_RTOL)
    with pytest.raises(ValueError, match="X has 10 rows but y has 200"):
        le_cessie_van_houwelingen(y, p, X[:10])


def test_calibration_matches_r_val_prob_and_statsmodels_glm_with_offset(reference_data):
    sm = pytest.importorskip("statsmodels.api")
    X, y = reference_data[["x1", "x2"]], reference_data["y"].to_numpy()
    p = _sm_proba(y[:120], X[:120], X[120:])
    cal = logistic_calibration(y[120:], p)
    assert_allclose([cal.recalibration_intercept, cal.slope], VALPROB_INTERCEPT_SLOPE, rtol=GOF_RTOL)
    assert cal.intercept == pytest.approx(CITL_INTERCEPT[0], rel=GOF_RTOL)
    w = np.random.default_rng(4).integers(1, 4, size=80).astype(float)
    weighted = logistic_calibration(y[120:], p, sample_weight=w)
    logit = np.log(p / (1 - p))
    glm = sm.GLM(y[120:], np.ones((80, 1)), family=sm.families.Binomial(), offset=logit, freq_weights=w).fit()
    slope = sm.GLM(y[120:], sm.add_constant(logit), family=sm.families.Binomial(), freq_weights=w).fit()
    assert weighted.intercept == pytest.approx(glm.params[0], rel=GOF_RTOL)
    assert_allclose([weighted.recalibration_intercept, weighted.slope], slope.params, rtol=GOF_RTOL)


def test_a_maximum_likelihood_fit_is_calibrated_on_its_own_rows(fitted_proba):
    _, y, p = fitted_proba  # the score equations of an MLE with an intercept: intercept 0, slope 1
    cal = logistic_calibration(y, p)
    assert abs(cal.intercept) < 1e-8 and abs(cal.recalibration_intercept) < 1e-8
    assert cal.slope == pytest.approx(1.0, abs=1e-8)


def test_evaluate_reports_goodness_of_fit_for_binary_models(binary, multinomial, reference_data):
    est, X, y = binary
    ev = evaluate(est, X, y)
    y_pos, p = (y == "yes").astype(int), est.predict_proba(X)[:, 1]
    gof = ev.goodness_of_fit
    assert gof["hosmer_lemeshow"] == hosmer_lemeshow(y_pos, p).to_dict()
    sm = pytest.importorskip("statsmodels.api")
    logit = np.log(p / (1 - p))
    slope = sm.GLM(y_pos, sm.add_constant(logit), family=sm.families.Binomial()).fit().params
    assert gof["calibration"]["slope"] == pytest.approx(slope[1], rel=GOF_RTOL)
    assert set(gof["calibration"]) == {"intercept", "slope", "recalibration_intercept"}
    assert json.loads(json.dumps(ev.to_dict()))["goodness_of_fit"] == gof
    weighted = evaluate(est, X, y, sample_weight=np.full(len(y), 2.0))
    assert weighted.goodness_of_fit["hosmer_lemeshow"] is None  # its grouping is for unweighted rows
    assert weighted.goodness_of_fit["calibration"]["slope"] == pytest.approx(slope[1], rel=GOF_RTOL)
    one_class = evaluate(est, X[y == "yes"], y[y == "yes"]).goodness_of_fit
    assert one_class["calibration"] is None and one_class["hosmer_lemeshow"] is not None
    est3, X3, y3 = multinomial
    assert evaluate(est3, X3, y3).goodness_of_fit == {}


@pytest.mark.parametrize(("y", "p", "groups", "message"), [
    ([0, 1, 2], [0.1, 0.5, 0.9], 10, "0/1"),
    ([0, 1, 1], [0.1, 0.5, 1.2], 10, r"probabilities in \[0, 1\]"),
    ([0, 1], [0.1, 0.5, 0.9], 10, "of one length"),
    ([0, 1, 1], [0.1, 0.5, 0.9], 2, "at least 3"),
    ([0, 1, 1, 0], [0.2, 0.2, 0.7, 0.7], 10, "too few distinct values"),
])
def test_goodness_of_fit_bad_inputs(y, p, groups, message):
    with pytest.raises(ValueError, match=message):
        hosmer_lemeshow(np.array(y), np.array(p), groups=groups)
