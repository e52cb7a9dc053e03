"""Value types and codecs of Bitcoin's wire formats (no I/O, no chain state)."""
