"""Regtest chains grown block by block through Bitcoin Core's engine, for the demo and the tests."""
