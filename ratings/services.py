"""Votes: a signed-in person's view of a finished debate, one per person and debate, changeable."""
from django.db import transaction

from debates.models import Debate, DebateStatus
from debates.services import DebateNotFound, DebateStateError, DebateValidationError
from ratings.models import Vote, VoteChoice


@transaction.atomic
def vote_cast(*, debate_id: int, user, choice: str, seat_id: int | None = None, blind: bool = False) -> Vote:
    """Record (or change) `user`'s vote: a seat (`seat_id`), a tie or "both bad". Only finished debates."""
    debate = Debate.objects.filter(pk=debate_id).first()
    if debate is None:
        raise DebateNotFound(f"There is no debate {debate_id}.")
    if debate.status != DebateStatus.COMPLETED:
        raise DebateStateError(f"This debate is {debate.display_status}; only a finished debate can be voted on.")
    errors = {}
    if choice not in VoteChoice.values:
        errors["choice"] = [f"Choose one of {', '.join(VoteChoice.values)}."]
    elif choice == VoteChoice.SEAT and not debate.seats.filter(pk=seat_id).exists():
        errors["seat_id"] = ["Choose a seat of this debate."]
    elif choice != VoteChoice.SEAT and seat_id is not None:
        errors["seat_id"] = ["A tie or 'both bad' names no seat."]
    if errors:
        raise DebateValidationError("The vote cannot be recorded as given.", errors=errors)
    vote, _ = Vote.objects.update_or_create(debate=debate, user=user, defaults={
        "choice": choice, "seat_id": seat_id if choice == VoteChoice.SEAT else None, "blind": blind})
    return vote


def vote_of(*, debate_id: int, user) -> Vote | None:
    if not Debate.objects.filter(pk=debate_id).exists():
        raise DebateNotFound(f"There is no debate {debate_id}.")
    return Vote.objects.filter(debate_id=debate_id, user=user).first()
