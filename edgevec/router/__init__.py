"""Routing over several stores: endpoint choice, failover policy and federated merge.

The pure parts (:mod:`edgevec.router.policy`, :mod:`edgevec.router.merge`) do no I/O, so each is
tested without an engine; the router store builds on them.
"""
