"""proofsmith: verified corpora for formal proofs and code, small provers, sandboxed checkers."""

__version__ = "0.1.0"
