"""OWL 2 RL reasoning: the SPARQL forward chainer and the cache of its results."""

from virtkg.reasoning.materialize import MaterializeResult, materialize

#: Part of the cache key: bump when the rules or their output change.
REASONER_VERSION = "virtkg-rl-1"

__all__ = ["REASONER_VERSION", "MaterializeResult", "materialize"]
