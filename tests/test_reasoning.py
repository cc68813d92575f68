"""Rule-by-rule tests of the OWL 2 RL forward chainer: each case fails with its rule disabled."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from virtkg.errors import InconsistentKnowledgeBase
from virtkg.reasoning import materialize

HEADER = """
@prefix : <http://e/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
E = "http://e/"
A = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"


def triples(ttl: str) -> list[ox.Triple]:
    return [q.triple for q in ox.parse(HEADER + ttl, format=ox.RdfFormat.TURTLE)]


def t(s: str, p: str, o: str) -> ox.Triple:
    def term(x: str) -> ox.NamedNode:
        if x == "a":
            return ox.NamedNode(A)
        if x.startswith(("rdfs:", "owl:")):
            return ox.NamedNode({"rdfs": RDFS, "owl": OWL}[x[: x.index(":")]] + x.split(":")[1])
        return ox.NamedNode(E + x)

    return ox.Triple(term(s), term(p), term(o))


# (case id, disabled to prove the case needs the rule, turtle, expected triple)
CASES = [
    ("cax-sco", {"cax-sco"}, ":A rdfs:subClassOf :B . :x a :A .", ("x", "a", "B")),
    ("cax-eqc1", {"scm-eqc1"}, ":A owl:equivalentClass :B . :x a :A .", ("x", "a", "B")),
    ("cax-eqc2", {"scm-eqc1"}, ":A owl:equivalentClass :B . :x a :B .", ("x", "a", "A")),
    (
        "scm-sco",
        {"scm-sco"},
        ":A rdfs:subClassOf :B . :B rdfs:subClassOf :C .",
        ("A", "rdfs:subClassOf", "C"),
    ),
    ("scm-eqc1", {"scm-eqc1"}, ":A owl:equivalentClass :B .", ("B", "rdfs:subClassOf", "A")),
    (
        "scm-eqc2",
        {"scm-eqc2"},
        ":A rdfs:subClassOf :B . :B rdfs:subClassOf :A .",
        ("A", "owl:equivalentClass", "B"),
    ),
    (
        "scm-spo",
        {"scm-spo"},
        ":p rdfs:subPropertyOf :q . :q rdfs:subPropertyOf :r .",
        ("p", "rdfs:subPropertyOf", "r"),
    ),
    ("scm-eqp1", {"scm-eqp1"}, ":p owl:equivalentProperty :q .", ("q", "rdfs:subPropertyOf", "p")),
    (
        "scm-eqp2",
        {"scm-eqp2"},
        ":p rdfs:subPropertyOf :q . :q rdfs:subPropertyOf :p .",
        ("p", "owl:equivalentProperty", "q"),
    ),
    (
        "scm-dom1",
        {"scm-dom1"},
        ":p rdfs:domain :A . :A rdfs:subClassOf :B .",
        ("p", "rdfs:domain", "B"),
    ),
    (
        "scm-dom2",
        {"scm-dom2"},
        ":q rdfs:domain :A . :p rdfs:subPropertyOf :q .",
        ("p", "rdfs:domain", "A"),
    ),
    (
        "scm-rng1",
        {"scm-rng1"},
        ":p rdfs:range :A . :A rdfs:subClassOf :B .",
        ("p", "rdfs:range", "B"),
    ),
    (
        "scm-rng2",
        {"scm-rng2"},
        ":q rdfs:range :A . :p rdfs:subPropertyOf :q .",
        ("p", "rdfs:range", "A"),
    ),
    ("scm-int", {"scm-int"}, ":C owl:intersectionOf ( :A :B ) .", ("C", "rdfs:subClassOf", "B")),
    ("scm-uni", {"scm-uni"}, ":C owl:unionOf ( :A :B ) .", ("B", "rdfs:subClassOf", "C")),
    ("prp-spo1", {"prp-spo1"}, ":p rdfs:subPropertyOf :q . :x :p :y .", ("x", "q", "y")),
    ("prp-eqp1", {"scm-eqp1"}, ":p owl:equivalentProperty :q . :x :p :y .", ("x", "q", "y")),
    ("prp-eqp2", {"scm-eqp1"}, ":p owl:equivalentProperty :q . :x :q :y .", ("x", "p", "y")),
    ("prp-dom", {"prp-dom", "scm-dom1"}, ":p rdfs:domain :D . :x :p :y .", ("x", "a", "D")),
    ("prp-rng", {"prp-rng"}, ":p rdfs:range :R . :x :p :y .", ("y", "a", "R")),
    ("prp-inv1", {"prp-inv1"}, ":p owl:inverseOf :q . :x :p :y .", ("y", "q", "x")),
    ("prp-inv2", {"prp-inv2"}, ":p owl:inverseOf :q . :x :q :y .", ("y", "p", "x")),
    ("prp-symp", {"prp-symp"}, ":p a owl:SymmetricProperty . :x :p :y .", ("y", "p", "x")),
    (
        "prp-trp",
        {"prp-trp"},
        ":p a owl:TransitiveProperty . :x :p :y . :y :p :z . :z :p :w .",
        ("x", "p", "w"),
    ),
    ("cls-hv1", {"cls-hv1"}, ":R owl:onProperty :p ; owl:hasValue :v . :x a :R .", ("x", "p", "v")),
    (
        "cls-hv2",
        {"cls-hv2"},
        ":R owl:onProperty :p ; owl:hasValue :v . :x :p :v .",
        ("x", "a", "R"),
    ),
    (
        "cls-hv2-literal",
        {"cls-hv2"},
        ':R owl:onProperty :p ; owl:hasValue "yes" . :x :p "yes" .',
        ("x", "a", "R"),
    ),
    ("cls-int1", {"cls-int1"}, ":C owl:intersectionOf ( :A :B ) . :x a :A , :B .", ("x", "a", "C")),
    (
        "cls-int2",
        {"cls-int2", "scm-int"},
        ":C owl:intersectionOf ( :A :B ) . :x a :C .",
        ("x", "a", "B"),
    ),
    ("cls-uni", {"cls-uni", "scm-uni"}, ":C owl:unionOf ( :A :B ) . :x a :B .", ("x", "a", "C")),
    (
        "cls-svf1",
        {"cls-svf1"},
        ":R owl:onProperty :p ; owl:someValuesFrom :Y . :x :p :v . :v a :Y .",
        ("x", "a", "R"),
    ),
    (
        "cls-svf2",
        {"cls-svf2"},
        ":R owl:onProperty :p ; owl:someValuesFrom owl:Thing . :x :p :v .",
        ("x", "a", "R"),
    ),
    (
        "cls-avf",
        {"cls-avf"},
        ":R owl:onProperty :p ; owl:allValuesFrom :Y . :x a :R ; :p :v .",
        ("v", "a", "Y"),
    ),
    # Our ontology's shapes: GCIs between anonymous restrictions, and defined fit classes.
    (
        "satisfies-gci",
        {"cls-hv1"},
        "[ owl:onProperty :boundary ; owl:hasValue :HW ] rdfs:subClassOf "
        "[ owl:onProperty :satisfies ; owl:hasValue :MinIsolationHardware ] . :x :boundary :HW .",
        ("x", "satisfies", "MinIsolationHardware"),
    ),
    (
        "fit-class",
        {"cls-int1"},
        ":Fit owl:equivalentClass [ owl:intersectionOf ( :Technology "
        "[ owl:onProperty :satisfies ; owl:hasValue :R1 ] "
        "[ owl:onProperty :satisfies ; owl:hasValue :R2 ] ) ] . "
        ":x a :Technology ; :satisfies :R1 , :R2 .",
        ("x", "a", "Fit"),
    ),
    # A property that is a sub-property of rdfs:subClassOf changes the TBox mid-run (recompile).
    (
        "tbox-from-abox",
        {"prp-spo1"},
        ":narrower rdfs:subPropertyOf rdfs:subClassOf . :A :narrower :B . :x a :A .",
        ("x", "a", "B"),
    ),
]


@pytest.mark.parametrize(("case", "disabled", "ttl", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule(case: str, disabled: set[str], ttl: str, expected: tuple[str, str, str]) -> None:
    asserted = triples(ttl)
    assert t(*expected) in materialize(asserted).inferred
    assert t(*expected) not in materialize(asserted, disabled=disabled).inferred


def test_fit_class_needs_every_conjunct() -> None:
    ttl = (
        ":Fit owl:equivalentClass [ owl:intersectionOf ( :Technology "
        "[ owl:onProperty :satisfies ; owl:hasValue :R1 ] "
        "[ owl:onProperty :satisfies ; owl:hasValue :R2 ] ) ] . "
        ":x a :Technology ; :satisfies :R1 ."
    )
    assert t("x", "a", "Fit") not in materialize(triples(ttl)).inferred


def test_output_hygiene() -> None:
    ttl = """
    :A rdfs:subClassOf :B , owl:Thing . :B owl:equivalentClass :B .
    :p rdfs:range :R . :d rdfs:range xsd:string . :x a :A ; :p :y ; :d "lit" ; owl:sameAs :x .
    :q a owl:SymmetricProperty . :x :q "v" .
    :C owl:equivalentClass [ owl:intersectionOf ( :A [ owl:onProperty :p ; owl:hasValue :y ] ) ] .
    """
    asserted = triples(ttl)
    inferred = materialize(asserted).inferred
    assert t("x", "a", "C") in inferred
    assert not set(inferred) & set(asserted)
    assert len(set(inferred)) == len(inferred)
    for tr in inferred:
        assert isinstance(tr.subject, ox.NamedNode)
        assert not isinstance(tr.object, ox.BlankNode)
        assert tr.object != ox.NamedNode(OWL + "Thing")
        assert tr.subject != tr.object


def test_result_reports_rounds_and_time() -> None:
    result = materialize(triples(":A rdfs:subClassOf :B . :x a :A ."))
    assert result.rounds >= 1 and result.seconds > 0
    assert list(result) == result.inferred and len(result) == 1


INCONSISTENT = [
    ("cax-dw", ":A owl:disjointWith :B . :x a :A , :B .", ["http://e/x", "<http://e/A>"]),
    (
        "cax-adc",
        "[] a owl:AllDisjointClasses ; owl:members ( :A :B :C ) . :K rdfs:subClassOf :C . "
        ":x a :A , :K .",
        ["http://e/x", "<http://e/A>", "<http://e/C>", "declared disjoint"],
    ),
    ("cls-nothing2", ":x a owl:Nothing .", ["http://e/x", "owl:Nothing"]),
    ("cls-com", ":A owl:complementOf :B . :x a :A , :B .", ["http://e/x", "complement"]),
    ("prp-irp", ":p a owl:IrreflexiveProperty . :x :p :x .", ["http://e/x", "irreflexive"]),
    ("prp-asyp", ":p a owl:AsymmetricProperty . :x :p :y . :y :p :x .", ["asymmetric"]),
    ("prp-pdw", ":p owl:propertyDisjointWith :q . :x :p :y ; :q :y .", ["http://e/x"]),
    (
        "prp-adp",
        "[] a owl:AllDisjointProperties ; owl:members ( :p :q ) . :x :p :y ; :q :y .",
        ["http://e/x"],
    ),
    (
        "eq-diff1",
        ":x owl:differentFrom :y . :y owl:sameAs :z . :z owl:sameAs :x .",
        ["http://e/x", "http://e/y"],
    ),
    (
        "eq-diff2",
        "[] a owl:AllDifferent ; owl:distinctMembers ( :x :y :z ) . :x owl:sameAs :z .",
        ["http://e/x", "http://e/z", "owl:AllDifferent"],
    ),
]


@pytest.mark.parametrize(("rule", "ttl", "named"), INCONSISTENT, ids=[c[0] for c in INCONSISTENT])
def test_inconsistency(rule: str, ttl: str, named: list[str]) -> None:
    asserted = triples(ttl)
    with pytest.raises(InconsistentKnowledgeBase) as info:
        materialize(asserted)
    err = info.value
    assert any(v["rule"] == rule for v in err.details["violations"])
    for name in named:
        assert name in err.message
    materialize(asserted, disabled={rule})  # the same graph passes without the check


def test_inconsistency_via_inference_names_asserted_types() -> None:
    ttl = """
    [] a owl:AllDisjointClasses ; owl:members ( :HW :OS ) .
    :Hypervisor rdfs:subClassOf :HW . :AppRuntime rdfs:subClassOf :OS .
    :foo a :Hypervisor , :AppRuntime .
    """
    with pytest.raises(InconsistentKnowledgeBase) as info:
        materialize(triples(ttl))
    violation = info.value.details["violations"][0]
    assert violation["entity"] == "http://e/foo"
    assert violation["asserted_types"] == ["<http://e/AppRuntime>", "<http://e/Hypervisor>"]
    assert "asserted types" in info.value.message


# Anonymous [p value v] restrictions repeated across axioms are stored as one (_:r1, the first
# skolem IRI); see merged_restrictions.
REPEATED = """
_:r1 owl:onProperty :p ; owl:hasValue :v ; rdfs:subClassOf :A .
_:r2 owl:onProperty :p ; owl:hasValue :v ; rdfs:subClassOf :B .
_:r3 owl:onProperty :p ; owl:hasValue :v .
:C owl:equivalentClass [ owl:intersectionOf ( :K _:r3 ) ] .
:x :p :v ; a :K .
"""


def test_repeated_restrictions() -> None:
    expected = {t("x", "a", "A"), t("x", "a", "B"), t("x", "a", "C")}
    assert expected <= set(materialize(triples(REPEATED)).inferred)
    # Without cls-hv1 nothing is merged; the same follows from x p v by cls-hv2 alone.
    assert expected <= set(materialize(triples(REPEATED), disabled={"cls-hv1"}).inferred)


@pytest.mark.parametrize("axiom", ["owl:disjointWith", "owl:complementOf"])
def test_repeated_restriction_in_a_check(axiom: str) -> None:
    ttl = f"{REPEATED} _:z owl:onProperty :p ; owl:hasValue :v ; {axiom} :D . :x a :D ."
    with pytest.raises(InconsistentKnowledgeBase) as info:
        materialize(triples(ttl))
    assert info.value.details["violations"][0]["entity"] == "http://e/x"


def test_design_prefixes_in_messages() -> None:
    ttl = """
    @prefix vkg: <https://w3id.org/virtkg/ontology#> .
    @prefix tech: <https://w3id.org/virtkg/technology/> .
    vkg:Hypervisor owl:disjointWith vkg:ApplicationContainerRuntime .
    tech:foo a vkg:Hypervisor , vkg:ApplicationContainerRuntime .
    """
    with pytest.raises(InconsistentKnowledgeBase) as info:
        materialize(triples(ttl))
    assert (
        "tech:foo is both vkg:ApplicationContainerRuntime and vkg:Hypervisor, declared disjoint"
        in info.value.message
        or "tech:foo is both vkg:Hypervisor and vkg:ApplicationContainerRuntime, declared disjoint"
        in info.value.message
    )
