"""Use cases: the views every face (CLI, web site, follower) shows, assembled from the book and the chain facts.

No rule lives here: the rules are in `book/`, `reconcile/`, `proofs/`; this layer joins what
they need and hands each face the same value.
"""
