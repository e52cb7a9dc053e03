"""Scenarios: actors, wallets and dated events in a TOML file, turned into a regtest chain."""
