"""virtkg: a knowledge graph for choosing between VMs, containers and the hybrids between them.

The core (store, reasoning, recommendation, saved queries) has no Flask dependency;
the HTTP layer lives in :mod:`virtkg.http`.
"""

__version__ = "0.1.0"
