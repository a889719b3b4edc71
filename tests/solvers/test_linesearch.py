"""The line search and stopping rule Newton and proximal Newton share."""

import pytest
import torch

from torchlogit.solvers._linesearch import LINE_SEARCH_FAILED, MIN_STEP, backtrack
from torchlogit.solvers._result import StoppingRule, rounding_floor


def _square(calls):
    """F(x) = x² and |F'(x)| as the optimality measure, recording the step lengths tried."""
    def evaluate(point, step):
        calls.append(step)
        x = float(point)
        return x * x, abs(2 * x), "what the solver keeps"
    return evaluate


def test_backtrack_halves_the_step_until_armijo_holds():
    calls = []
    one = torch.tensor(1.0, dtype=torch.float64)
    # from x = 1 along -4: x = -3 (F = 9), then x = -1 (F = 1, no decrease), then x = 0
    trial = backtrack(one, -4 * one, 1.0, -8.0, 2.0, _square(calls))
    assert calls == [1.0, 0.5, 0.25]
    assert (trial.step, float(trial.point), trial.f, trial.progress) == (0.25, 0.0, 0.0, 0.0)
    assert trial.evaluation == "what the solver keeps"


def test_backtrack_gives_up_below_the_minimum_step():
    calls = []
    one = torch.tensor(1.0, dtype=torch.float64)
    assert backtrack(one, one, 1.0, -2.0, 2.0, _square(calls)) is None  # an ascent direction
    assert min(calls) >= MIN_STEP > min(calls) / 2
    assert calls == [0.5**k for k in range(len(calls))]


def test_backtrack_accepts_a_step_flat_to_rounding_that_shrinks_the_gradient():
    one = torch.tensor(1.0, dtype=torch.float64)
    flat = backtrack(one, one, 0.5, -1.0, 1e-8, lambda point, step: (0.5, 1e-9, None))
    assert flat is not None and flat.step == 1.0
    no_progress = backtrack(one, one, 0.5, -1.0, 1e-8, lambda point, step: (0.5, 1e-8, None))
    assert no_progress is None


def test_stopping_rule_in_one_place():
    rule = StoppingRule(1e-8, 10, "KKT violation", "proximal Newton steps")
    assert not rule.should_stop(1e-6, 3, None)
    assert rule.should_stop(1e-9, 3, None) and rule.should_stop(1e-6, 10, None)
    assert rule.should_stop(1e-6, 3, LINE_SEARCH_FAILED)
    assert rule.outcome(1e-9, 0.5, torch.float64, 3, None) == (
        True, "KKT violation 1e-09 <= tol 1e-08 after 3 proximal Newton steps")
    assert rule.outcome(1e-6, 0.5, torch.float64, 10, None) == (False, "reached max_iter=10")
    assert rule.outcome(1e-2, 0.5, torch.float64, 4, LINE_SEARCH_FAILED) == (False, LINE_SEARCH_FAILED)
    floor = rounding_floor(0.5, torch.float64)
    converged, message = rule.outcome(floor / 2, 0.5, torch.float64, 4, LINE_SEARCH_FAILED)
    assert converged and message.startswith("stopped at the rounding floor of F after 4 proximal Newton")
    assert floor == pytest.approx(10 * (torch.finfo(torch.float64).eps) ** 0.5)
