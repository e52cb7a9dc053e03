"""Proofs of reserves: a bundle of balances at a block with BIP-322 proofs of control, made from the
book's synced wallets and checked by anyone against their own node, without the book."""
