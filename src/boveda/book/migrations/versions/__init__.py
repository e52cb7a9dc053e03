"""One module per schema revision; other layers add theirs here too (0002: chain facts of wallets)."""
