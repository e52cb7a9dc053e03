"""Reorganisations of a simulation: build a branch on an earlier block until the kernel switches to it."""

from __future__ import annotations

from boveda.bitcoin.block import Block
from boveda.chain.regtest.books import _Fork
from boveda.errors import BuilderError


class Branching:
    """The reorg half of `Simulation` (which holds the chain records, the books and the builder)."""

    def fork(self, from_height: int) -> None:
        """Builds the next blocks on the block at `from_height`, competing with the blocks above it.

        The kernel keeps its chain until the branch is longer, then switches to it. The books
        follow the chain being built: from here on, the branch.
        """
        if self._pending:
            raise BuilderError("mine or discard the queued transactions before forking")
        if self._fork is not None:
            raise BuilderError("a branch is already being built; mine it until it wins, or abandon_fork()")
        if not 0 <= from_height < self.height:
            raise BuilderError(f"fork height {from_height} must be below the tip height {self.height}")
        displaced = tuple(self._chain[from_height + 1 :])
        self._disconnect_to(from_height)
        self._fork = _Fork(from_height, displaced)

    def abandon_fork(self) -> None:
        """Gives up a branch that has not won: the books return to the kernel's active chain."""
        if self._fork is None:
            raise BuilderError("no branch is being built")
        if self._pending:
            raise BuilderError("mine or discard the queued transactions first")
        fork, self._fork = self._fork, None
        self._disconnect_to(fork.from_height)
        for record in fork.displaced:
            self._books.apply(record, self._owner.get)
            self._chain.append(record)
        self._reset_spendable()

    def _disconnect_to(self, height: int) -> None:
        while self.height > height:
            self._books.undo(self._chain.pop(), self._owner.get)
        self._reset_spendable()

    def _submit_branch_block(self, block: Block, height: int) -> None:
        builder = self.builder
        builder.submit_branch_block(block)
        competing_height = self._fork.from_height + len(self._fork.displaced)
        if builder.tip.hash == block.hash:
            self._fork = None  # the branch is now the active chain
        elif height > competing_height:
            raise BuilderError(
                f"the branch is longer (height {height} > {competing_height}) but the kernel did not switch to it"
            )
