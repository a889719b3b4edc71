"""Start-up stays light: ``import torchlogit`` and ``torchlogit --help`` import neither torch nor
scikit-learn (seconds each), and every public name still resolves on first use."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

import torchlogit

HEAVY = ("torch", "sklearn", "scipy", "pandas", "pyarrow", "matplotlib")


def _modules_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize("code", [
    "import torchlogit",
    "from torchlogit.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
    "from torchlogit.cli.main import main\nmain(['fit', '--no-such-flag'])",
    "from torchlogit.cli.main import main\nassert main(['predict', 'model.safetensors', 'no-such.csv']) == 1",
])
def test_start_up_imports_nothing_heavy(code):
    assert not _modules_after(code) & set(HEAVY)


def test_every_public_name_resolves():
    for name in torchlogit.__all__:
        assert getattr(torchlogit, name) is not None, name
    assert set(torchlogit.__all__) <= set(dir(torchlogit))
    with pytest.raises(AttributeError, match="no_such_name"):
        torchlogit.no_such_name  # noqa: B018


def test_convergence_warning_is_scikit_learns():
    from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning

    from torchlogit._exceptions import ConvergenceWarning

    assert torchlogit.ConvergenceWarning is ConvergenceWarning
    assert issubclass(ConvergenceWarning, SklearnConvergenceWarning)
    assert ConvergenceWarning.__qualname__ == "ConvergenceWarning"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        warnings.warn("stopped early", ConvergenceWarning, stacklevel=1)
    assert caught == []
