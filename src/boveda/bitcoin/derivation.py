"""The receive/change step of BIP-44-style derivation paths, shared by wallets that derive and that sign."""

import enum


class Branch(enum.IntEnum):
    """The last-but-one step of a path (BIP-44 "change"), or which path of a BIP-389 `<0;1>` step.

    A descriptor without such a step has only RECEIVE.
    """

    RECEIVE = 0
    CHANGE = 1
