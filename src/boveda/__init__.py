"""Bóveda: the book of record for a sovereign bitcoin reserve, proved against the chain."""

__version__ = "0.1.0"
