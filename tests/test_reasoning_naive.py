"""The chainer's shortcuts infer exactly what naive evaluation infers.

Shortcuts: semi-naive runs (a rule re-reads only the triples its inputs got since its last run),
rules ordered writers first, and repeated ``[p value v]`` restrictions stored once. The reference,
``materialize(..., naive=True)``, runs every rule on the whole graph in every pass. The order only
saves work, so any order must give the same result: shuffled orders exercise the semi-naive
bookkeeping far more than the writers-first one, where most rules run once on complete inputs.
"""

from __future__ import annotations

import importlib
import importlib.util
import random

import pytest
from test_reasoning import CASES, triples

from virtkg.config import PROJECT_ROOT
from virtkg.kb import KnowledgeBaseFiles
from virtkg.reasoning import materialize


def _synthetic(size: int, seed: int) -> list:
    path = PROJECT_ROOT / "bench" / "synthetic.py"
    spec = importlib.util.spec_from_file_location("synthetic", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.synthetic_kb(size, seed)


def _same(asserted: list) -> None:
    fast, naive = materialize(asserted), materialize(asserted, naive=True)
    assert len(fast.inferred) == len(set(fast.inferred))
    assert set(fast.inferred) == set(naive.inferred)


@pytest.fixture
def shuffled_order(monkeypatch):
    """Run the rules in a random order (seeded by the test) instead of writers first."""
    module = importlib.import_module("virtkg.reasoning.materialize")

    def use(seed: int) -> None:
        def order(rules):
            rules = list(rules)
            random.Random(seed).shuffle(rules)
            return rules

        monkeypatch.setattr(module, "order_rules", order)

    return use


@pytest.mark.parametrize("seed", [42, 7])
def test_synthetic_kb(seed: int) -> None:
    _same(_synthetic(10_000, seed))


def test_shipped_kb() -> None:
    files = KnowledgeBaseFiles.discover(PROJECT_ROOT)
    _same(files.ontology_triples() + files.data_triples())


@pytest.mark.parametrize("seed", range(5))
def test_any_rule_order(seed: int, shuffled_order) -> None:
    files = KnowledgeBaseFiles.discover(PROJECT_ROOT)
    asserted = files.ontology_triples() + files.data_triples()
    reference = set(materialize(asserted, naive=True).inferred)
    shuffled_order(seed)
    assert set(materialize(asserted).inferred) == reference
    assert set(materialize(_synthetic(3_000, seed)).inferred) == set(
        materialize(_synthetic(3_000, seed), naive=True).inferred
    )


@pytest.mark.parametrize("ttl", [c[2] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_cases(ttl: str) -> None:
    _same(triples(ttl))
