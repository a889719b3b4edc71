"""``torchlogit demo``: the tutorial end to end on its embedded 2-D data, with figures.

Part of the CLI layer: :mod:`torchlogit.cli.main` parses the arguments and dispatches here, and
:mod:`torchlogit.cli._output` prints.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from torchlogit.cli import _output

if TYPE_CHECKING:
    from torchlogit.tutorial.demo import DemoResult


def demo(args: argparse.Namespace) -> None:
    """Run the tutorial's demo with the options in ``args`` and describe what it found."""
    from torchlogit.tutorial.demo import run_demo

    started = time.perf_counter()
    shown = _output.bar_wanted(args.quiet, args.progress) and args.solver != "newton"
    with _output.fit_progress(shown, epochs=args.max_iter) as bar:
        report_every = max(1, args.max_iter // 10)

        def on_epoch(epoch: int, loss: float, grad_max: float, test_accuracy: float) -> None:
            bar.on_iteration(epoch, loss, grad_max)
            if not args.quiet and (epoch % report_every == 0 or epoch == args.max_iter):
                _output.out(f"epoch {epoch:>6}: loss {loss:.6f}, max |gradient| {grad_max:.2e}, "
                            f"test accuracy {test_accuracy:.3f}")

        result = run_demo(args.out, optimizer=args.solver, epochs=args.max_iter, lr=args.lr,
                          C=args.C, seed=args.random_state, on_epoch=on_epoch)
        bar.finish(None, result.iterations)
    _print_result(result, args.C)
    _output.out(f"done in {time.perf_counter() - started:.2f} s")


def _print_result(result: DemoResult, C: float) -> None:
    """The data, the fit, the model, its accuracy, the new point's class and the figures."""
    from torchlogit.tutorial.demo import TEST_SIZE

    split = f"{result.n_train} training / {result.n_test} test points ({TEST_SIZE:.0%} held out)"
    _output.out(f"data: two separable groups, red = 0 and blue = 1; {split}")
    if result.method == "newton":
        _output.out(f"fit: Newton, exact optimum of mean log-loss + ‖w‖²/(2·C·n) with C = {C:g}: "
                    f"{result.iterations} iterations in {result.fit_seconds * 1e3:.1f} ms, "
                    f"max |gradient| {result.grad_max:.1e}")
    else:
        _output.out(f"fit: {result.method}, {result.iterations} epochs in {result.fit_seconds:.2f} s, "
                    f"final max |gradient| {result.grad_max:.1e} (the exact solver: --solver newton)")
    w = result.coef
    _output.out(f"model: w = ({w[0]:.4f}, {w[1]:.4f}), b = {result.intercept:.4f}; "
                f"boundary {w[0]:.3f}·x1 + {w[1]:.3f}·x2 + {result.intercept:.3f} = 0")
    _output.out(f"accuracy: train {result.train_accuracy:.3f}, test {result.test_accuracy:.3f}")
    _output.out(f"new point (x1=1, x2=1): the model classifies it as {result.new_point_name.upper()} "
                f"(class {result.new_point_class}) with probability {result.new_point_probability:.4f}")
    for path in result.figures:
        _output.out(f"wrote {path}")
