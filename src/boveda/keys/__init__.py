"""Software keys that production code may hold: the demo's and regtest's wallets, derived from a public label.

Never for real custody: a real reserve signs with its own hardware or offline signers.
"""
