"""Regional routing, the result cache and federated merge: stores that wrap stores.

The pure parts (:mod:`edgevec.router.policy`, :mod:`edgevec.router.merge`,
:mod:`edgevec.router.cache_key`) do no I/O, so each is tested without an engine; the router
(:mod:`edgevec.router.store`, :mod:`edgevec.router.arouter`) and the cache wrapper build on them.
"""
