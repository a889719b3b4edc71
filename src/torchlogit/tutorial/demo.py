"""The tutorial end to end on the embedded demo data: split, train, evaluate, plot, classify (1, 1).

``run_demo`` does the work and returns what happened; the CLI prints it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from torchlogit.core.model import LogisticModel
from torchlogit.estimators.logistic import LogisticRegression
from torchlogit.tutorial.datasets import CLASS_NAMES, make_demo_data
from torchlogit.tutorial.training import train

NEW_POINT = np.array([1.0, 1.0])
TEST_SIZE = 0.33
SPLIT_SEED = 42


@dataclass
class DemoResult:
    """What the demo computed: method, coefficients, accuracies, the new point's class, figures."""

    method: str
    coef: np.ndarray
    intercept: float
    n_train: int
    n_test: int
    train_accuracy: float
    test_accuracy: float
    iterations: int
    fit_seconds: float
    final_loss: float
    grad_max: float
    new_point_class: int
    new_point_probability: float
    figures: list[Path] = field(default_factory=list)

    @property
    def new_point_name(self) -> str:
        return CLASS_NAMES[self.new_point_class]


@dataclass(frozen=True)
class _Split:
    """The demo data split into training and test rows."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class _LoopSettings:
    """How the tutorial's epoch loop runs (``optimizer`` 'sgd' or 'adam')."""

    optimizer: str
    epochs: int
    lr: float
    C: float
    seed: int
    on_epoch: Callable[[int, float, float, float], None] | None


@dataclass(frozen=True)
class _Fit:
    """A fitted line ``coef·x + intercept`` and how the fit went (loss per step)."""

    coef: np.ndarray
    intercept: float
    losses: list[float]
    iterations: int
    grad_max: float


def run_demo(
    out_dir: str | os.PathLike[str] = "torchlogit-demo", *, optimizer: str = "newton",
    epochs: int = 1000, lr: float | None = None, C: float = 1.0, seed: int = 0,
    plots: bool = True,
    on_epoch: Callable[[int, float, float, float], None] | None = None,
) -> DemoResult:
    """Run the tutorial's steps and write its figures into ``out_dir``.

    ``optimizer='newton'`` (default) fits the exact C-penalised optimum with the estimator;
    ``'sgd'``/``'adam'`` run the tutorial's epoch loop on a :class:`LogisticModel` for the same
    objective, calling ``on_epoch(epoch, loss, max |gradient|, test accuracy)`` after each epoch.
    """
    if optimizer not in ("newton", "sgd", "adam"):
        raise ValueError(f"optimizer must be 'newton', 'sgd' or 'adam', got {optimizer!r}")
    if not C > 0:
        raise ValueError(f"C must be positive, got {C}")
    X, y = make_demo_data()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SPLIT_SEED
    )
    split = _Split(X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)
    start = time.perf_counter()
    if optimizer == "newton":
        fit = _newton_fit(split, C)
    else:
        default_lr = 0.5 if optimizer == "sgd" else 0.1
        fit = _tutorial_loop(split, _LoopSettings(
            optimizer=optimizer, epochs=epochs, lr=default_lr if lr is None else lr, C=C, seed=seed,
            on_epoch=on_epoch,
        ))
    fit_seconds = time.perf_counter() - start

    def accuracy(features: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(((features @ fit.coef + fit.intercept) > 0).astype(int) == labels))

    score = float(NEW_POINT @ fit.coef + fit.intercept)
    new_class = int(score > 0)
    prob_blue = float(torch.sigmoid(torch.tensor(score, dtype=torch.float64)))
    result = DemoResult(
        method=optimizer, coef=fit.coef, intercept=fit.intercept, n_train=len(split.y_train),
        n_test=len(split.y_test), train_accuracy=accuracy(split.X_train, split.y_train),
        test_accuracy=accuracy(split.X_test, split.y_test), iterations=fit.iterations,
        fit_seconds=fit_seconds, final_loss=fit.losses[-1], grad_max=fit.grad_max,
        new_point_class=new_class,
        new_point_probability=prob_blue if new_class == 1 else 1.0 - prob_blue,
    )
    if plots:
        result.figures = _figures(Path(out_dir), result, fit.losses, split)
    return result


def _newton_fit(split: _Split, C: float) -> _Fit:
    """The exact C-penalised optimum (the estimator's Newton solver); one loss per iteration."""
    est = LogisticRegression(C=C, solver="newton").fit(split.X_train, split.y_train)
    return _Fit(coef=est.coef_[0], intercept=float(est.intercept_[0]),
                losses=[h["objective"] for h in est.history_], iterations=int(est.n_iter_[0]),
                grad_max=est.grad_max_)


def _tutorial_loop(split: _Split, settings: _LoopSettings) -> _Fit:
    """The tutorial's loop: a LogisticModel trained for ``epochs`` full-batch epochs."""
    torch.manual_seed(settings.seed)
    model = LogisticModel(2, 1)
    X_tr = torch.as_tensor(split.X_train, dtype=torch.float32)
    X_te = torch.as_tensor(split.X_test, dtype=torch.float32)
    y_te = torch.as_tensor(split.y_test)
    last = {"grad_max": float("nan")}

    def report(epoch: int, loss: float, grad_max: float) -> None:
        last["grad_max"] = grad_max
        if settings.on_epoch is not None:
            test_acc = float((model.predict(X_te) == y_te).float().mean())
            settings.on_epoch(epoch, loss, grad_max, test_acc)

    # the same objective as the exact solver: mean log-loss + ‖w‖²/(2·C·n)
    losses = train(model, X_tr, torch.as_tensor(split.y_train), epochs=settings.epochs, lr=settings.lr,
                   optimizer=settings.optimizer, l2=1.0 / (settings.C * len(split.y_train)),
                   seed=settings.seed, on_epoch=report)
    coef = model.coef_matrix().double().numpy()[0]
    return _Fit(coef=coef[:2], intercept=float(coef[2]), losses=losses, iterations=settings.epochs,
                grad_max=last["grad_max"])


def _figures(out_dir: Path, result: DemoResult, losses: list[float], split: _Split) -> list[Path]:
    from torchlogit.reporting import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    how = "Newton iteration" if result.method == "newton" else "epoch"
    return [
        plots.plot_loss(losses, out_dir / "loss.png", xlabel=how,
                        title=f"Loss per {how} ({result.method})"),
        plots.plot_decision_boundary(split.X_train, split.y_train, result.coef, result.intercept,
                                     out_dir / "boundary_train.png", class_names=CLASS_NAMES,
                                     title="Decision boundary: training data"),
        plots.plot_decision_boundary(split.X_test, split.y_test, result.coef, result.intercept,
                                     out_dir / "boundary_test.png", class_names=CLASS_NAMES,
                                     title="Decision boundary: test data"),
        plots.plot_decision_boundary(split.X_train, split.y_train, result.coef, result.intercept,
                                     out_dir / "new_point.png", class_names=CLASS_NAMES,
                                     title="New point (1, 1) and the training data",
                                     new_point=NEW_POINT, new_point_label=result.new_point_class),
    ]
