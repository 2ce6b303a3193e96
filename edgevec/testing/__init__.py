"""Testing tools shipped with edgevec so third-party backends reuse them.

* :class:`ConformanceSuite` — the pytest suite every backend passes (needs ``pytest`` and
  ``hypothesis``: ``pip install "edgevec[test]"``); :class:`ThroughWrappers` runs it through
  the wrappers of :mod:`edgevec.testing.wrappers` as well.
* :mod:`edgevec.testing.oracle` — the exact numpy oracle and the reference filter semantics.
* :mod:`edgevec.testing.strategies` — hypothesis strategies for payloads and filters.
"""

from edgevec.testing.oracle import assert_hits_match, matches, oracle_topk
from edgevec.testing.suite import SWEEPS, ConformanceSuite, ThroughWrappers, recall_at_k

__all__ = [
    "SWEEPS",
    "ConformanceSuite",
    "ThroughWrappers",
    "assert_hits_match",
    "matches",
    "oracle_topk",
    "recall_at_k",
]
