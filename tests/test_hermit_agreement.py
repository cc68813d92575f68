"""Our OWL 2 RL materialization agrees with HermiT (fit classes) and covers owlrl (all classes)."""

from __future__ import annotations

from collections import defaultdict

import pyoxigraph as ox
import pytest

from virtkg.config import PROJECT_ROOT
from virtkg.kb import KnowledgeBaseFiles
from virtkg.reasoning import materialize

VKG = "https://w3id.org/virtkg/ontology#"
FIT = "https://w3id.org/virtkg/fit/"
TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
BUILTIN = (
    "http://www.w3.org/2002/07/owl#",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://www.w3.org/2000/01/rdf-schema#",
    "http://www.w3.org/2001/XMLSchema#",
)
#: Scenario ids from docs/design.md; any other fit:* class found in the KB is added.
DESIGN_SCENARIOS = [
    "dev-test",
    "microservices",
    "legacy-apps",
    "regulated-isolation",
    "multi-tenant-untrusted",
    "other-os",
    "other-cpu-arch",
    "gpu-trusted",
    "gpu-untrusted",
    "ci-untrusted-builds",
    "edge-iot",
    "windows-containers",
    "cloud-vm-no-nested",
    "kubernetes-mixed-trust",
]
HYPERVISOR_CLASSES = ["Type1Hypervisor", "Type2Hypervisor", "ContestedHypervisorType"]

FILES = KnowledgeBaseFiles.discover(PROJECT_ROOT)


def _fit_classes_in_kb() -> list[str]:
    found = set()
    for t in FILES.data_triples() + FILES.ontology_triples():
        for term in (t.subject, t.object):
            if isinstance(term, ox.NamedNode) and term.value.startswith(FIT):
                found.add(term.value[len(FIT) :])
    return sorted(found | set(DESIGN_SCENARIOS))


def memberships(triples) -> dict[str, set[str]]:
    """Class IRI -> IRIs of its members (named classes and named individuals only)."""
    out: dict[str, set[str]] = defaultdict(set)
    for t in triples:
        if (
            t.predicate.value == TYPE
            and isinstance(t.subject, ox.NamedNode)
            and isinstance(t.object, ox.NamedNode)
            and not t.object.value.startswith(BUILTIN)
        ):
            out[t.object.value].add(t.subject.value)
    return out


@pytest.fixture(scope="module")
def asserted():
    return FILES.ontology_triples() + FILES.data_triples()


@pytest.fixture(scope="module")
def ours(asserted):
    return memberships(asserted + materialize(asserted).inferred)


@pytest.fixture(scope="module")
def hermit():
    from virtkg.reasoning.hermit import hermit_classify

    result = hermit_classify(list(FILES.paths))
    assert result.consistent, result.explanation
    return result.memberships


def _compare(cls: str, ours: dict, hermit: dict) -> None:
    assert cls in hermit, f"{cls} is not a class HermiT knows (missing from the KB?)"
    assert ours.get(cls, set()) == hermit[cls], (
        f"only ours: {sorted(ours.get(cls, set()) - hermit[cls])}; "
        f"only HermiT: {sorted(hermit[cls] - ours.get(cls, set()))}"
    )


@pytest.mark.java
@pytest.mark.slow
@pytest.mark.parametrize("scenario", _fit_classes_in_kb())
def test_fit_class_agrees_with_hermit(scenario: str, ours, hermit) -> None:
    _compare(FIT + scenario, ours, hermit)


@pytest.mark.java
@pytest.mark.slow
@pytest.mark.parametrize("name", HYPERVISOR_CLASSES)
def test_hypervisor_class_agrees_with_hermit(name: str, ours, hermit) -> None:
    _compare(VKG + name, ours, hermit)


@pytest.mark.java
@pytest.mark.slow
def test_every_named_class_agrees_with_hermit(ours, hermit) -> None:
    # owlready2 only reports individuals it saw declared (typed); an IRI that is merely the object
    # of, say, vkg:appliesTo is an individual to us and to HermiT but owlready2 does not list it.
    known = set().union(*hermit.values())
    differing = {
        cls: sorted((ours.get(cls, set()) & known) ^ members)
        for cls, members in hermit.items()
        if not cls.startswith(BUILTIN) and (ours.get(cls, set()) & known) != members
    }
    assert not differing


@pytest.mark.slow
def test_covers_owlrl_memberships(asserted, ours) -> None:
    import owlrl
    from rdflib import RDF, Graph, URIRef

    graph = Graph()
    nt = ox.serialize(asserted, format=ox.RdfFormat.N_TRIPLES)
    graph.parse(data=nt.decode(), format="nt")
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(graph)
    theirs: dict[str, set[str]] = defaultdict(set)
    for s, _, o in graph.triples((None, RDF.type, None)):
        if isinstance(s, URIRef) and isinstance(o, URIRef) and not str(o).startswith(BUILTIN):
            theirs[str(o)].add(str(s))
    missing = {c: m - ours.get(c, set()) for c, m in theirs.items() if m - ours.get(c, set())}
    assert not missing, "owlrl infers memberships we miss"
    extra = {c: ours[c] - theirs.get(c, set()) for c in ours if ours[c] - theirs.get(c, set())}
    assert not extra, "we infer memberships owlrl does not (expected equal on this KB)"
