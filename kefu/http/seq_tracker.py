"""The seqs of one session delivered on one connection: what makes ``resume`` after live
traffic send every missed message exactly once (docs/protocol.md §5). Pure; loop thread."""

from __future__ import annotations


class SeqTracker:
    """The seqs of one session delivered on one connection: a floor plus a sparse set."""

    __slots__ = ("above", "floor")

    def __init__(self, floor: int = 0) -> None:
        self.floor = floor
        self.above: set[int] = set()

    def has(self, seq: int) -> bool:
        return seq <= self.floor or seq in self.above

    def add(self, seq: int) -> None:
        if seq <= self.floor:
            return
        self.above.add(seq)
        while self.floor + 1 in self.above:
            self.floor += 1
            self.above.discard(self.floor)

    def raise_floor(self, floor: int) -> None:
        if floor > self.floor:
            self.floor = floor
            self.above = {s for s in self.above if s > floor}
            while self.floor + 1 in self.above:
                self.floor += 1
                self.above.discard(self.floor)
