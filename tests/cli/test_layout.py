"""The shape of the command line's modules: imports flow from ``main`` down to ``_output``, never back.

Imports inside functions count (grimp reads them all): a lazy import is still a dependency.
"""

from __future__ import annotations

import itertools

import grimp
import pytest

CLI = "torchlogit.cli"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("torchlogit")


def _cli_modules(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.modules if m == CLI or m.startswith(f"{CLI}."))


def test_the_cli_modules_import_each_other_without_a_cycle(graph):
    def reaches(importer: str, imported: str) -> bool:
        return graph.find_shortest_chain(importer=importer, imported=imported) is not None

    pairs = itertools.combinations(_cli_modules(graph), 2)
    cycles = [(a, b) for a, b in pairs if reaches(a, b) and reaches(b, a)]
    assert cycles == []


def test_only_the_entry_points_reach_the_parser(graph):
    """The command modules and the printer never climb back up to ``cli.main``."""
    reaching = sorted(m for m in _cli_modules(graph)
                      if m != f"{CLI}.main" and graph.find_shortest_chain(importer=m, imported=f"{CLI}.main"))
    assert reaching == []
    assert graph.find_shortest_chain(importer="torchlogit.__main__", imported=f"{CLI}.main") is not None


def test_the_printer_imports_no_command(graph):
    """``_output`` sits at the bottom of the CLI: it imports none of the other CLI modules."""
    below = {m for m in _cli_modules(graph) if m != f"{CLI}._output"} - {CLI}
    reached = {m for m in below if graph.find_shortest_chain(importer=f"{CLI}._output", imported=m)}
    assert reached == set()
