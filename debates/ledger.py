"""The cost ledger as a debate's runner keeps it while it runs.

Loaded with the plan from the rows, moved by each completed turn inside that turn's own commit (the seat's row by
primary key, the debate's by the statement that numbers the turn's event; nothing read back), and set again from
the rows wherever Debate.refresh_spend recomputes them (the round checks and the verdict). The lease makes the
runner the only writer of its debate, so what it holds and what the rows hold stay the same; a runner that takes a
debate over loads them afresh.
"""
from dataclasses import dataclass, field, replace

from debates.models import Debate, Seat
from debates.row_writes import RowWrite


@dataclass
class Ledger:
    debate_id: int
    spent_usd: float
    unpriced_calls: int
    seats: dict[int, tuple[float, int]] = field(default_factory=dict)  # seat id -> (spent, unpriced), seat order

    @classmethod
    def of(cls, debate: Debate, seats: list[Seat]) -> "Ledger":
        return cls(debate.pk, debate.spent_usd, debate.unpriced_calls,
                   {seat.pk: (seat.spent_usd, seat.unpriced_calls) for seat in seats})

    def reload(self, spend: dict) -> None:
        """Take the figures refresh_spend recomputed (the shape it returns and events carry)."""
        self.spent_usd, self.unpriced_calls = spend["spent_usd"], spend["unpriced_calls"]
        self.seats = {seat["seat_id"]: (seat["spent_usd"], seat["unpriced_calls"]) for seat in spend["seats"]}

    def with_turn(self, seat_id: int, cost_usd: float | None) -> "Ledger":
        """The ledger once a completed turn's cost (None: it could not be priced) is counted on its seat and the
        debate. Written by that turn's commit: seat_row() in it, debate_fields() with its seq."""
        spent, unpriced = self.seats[seat_id]
        cost, unpriced_now = cost_usd or 0.0, int(cost_usd is None)
        return replace(self, spent_usd=self.spent_usd + cost, unpriced_calls=self.unpriced_calls + unpriced_now,
                       seats={**self.seats, seat_id: (spent + cost, unpriced + unpriced_now)})

    def seat_row(self, seat_id: int) -> RowWrite:
        spent, unpriced = self.seats[seat_id]
        return RowWrite.update(Seat, seat_id, spent_usd=spent, unpriced_calls=unpriced)

    def debate_fields(self) -> dict:
        return {"spent_usd": self.spent_usd, "unpriced_calls": self.unpriced_calls}

    def spend(self) -> dict:
        return {"spent_usd": self.spent_usd, "unpriced_calls": self.unpriced_calls,
                "seats": [{"seat_id": pk, "spent_usd": spent, "unpriced_calls": unpriced}
                          for pk, (spent, unpriced) in self.seats.items()]}
