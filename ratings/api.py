from ninja import Query, Router, Status

from providers.schemas import error_responses
from ratings import board
from ratings.outcomes import Filters
from ratings.schemas import BuildingOut, LeaderboardOut, LeaderboardQuery, VoteIn, VoteOut
from ratings.services import vote_cast, vote_of

router = Router(tags=["leaderboard"])


@router.get("/leaderboard", response={200: LeaderboardOut, 202: BuildingOut, **error_responses()})
def get_leaderboard(request, query: Query[LeaderboardQuery]):
    """The same numbers as /leaderboard/; 202 while a board for these filters is first computed (ask again)."""
    data, fresh = board.current(Filters(**query.model_dump()))
    if data is None:
        return Status(202, {"status": "building", "detail": "The leaderboard for these filters is being computed; "
                                                            "ask again in a few seconds."})
    return {**data, "status": "ready" if fresh else "stale"}


@router.post("/debates/{debate_id}/vote", response={200: VoteOut, **error_responses(400, 404, 409)})
def cast_vote(request, debate_id: int, payload: VoteIn):
    return _vote_dict(vote_cast(debate_id=debate_id, user=request.auth, choice=payload.choice,
                                seat_id=payload.seat_id, blind=payload.blind))


@router.get("/debates/{debate_id}/vote", response={200: VoteOut | None, **error_responses(404)})
def get_vote(request, debate_id: int):
    """Your vote on this debate, or null."""
    vote = vote_of(debate_id=debate_id, user=request.auth)
    return _vote_dict(vote) if vote else None


def _vote_dict(vote) -> dict:
    return {"debate_id": vote.debate_id, "choice": vote.choice, "seat_id": vote.seat_id, "blind": vote.blind,
            "updated_at": vote.updated_at.isoformat()}
