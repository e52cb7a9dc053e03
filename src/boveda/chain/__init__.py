"""Chain data: sources over a Bitcoin Core data directory, the scanner, the regtest builder.

This layer knows nothing of the book.
"""
