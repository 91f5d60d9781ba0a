from datetime import date
from typing import Literal

from ninja import Field, Schema

from debates.schemas import Text
from providers.schemas import RowId
from ratings.models import VoteChoice


class LeaderboardQuery(Schema):
    source: Literal["both", "judges", "humans"] = Field("both", description="Outcomes from judges' verdicts, "
                                                        "people's votes, or both.")
    judge_model_id: RowId | None = Field(None, description="Count only this judge model's own verdicts.")
    tag: Text = Field("", max_length=40, description="Only debates with this topic tag.")
    since: date | None = Field(None, description="Only debates created on or after this day.")
    until: date | None = Field(None, description="Only debates created on or before this day.")


class RatingOut(Schema):
    rank: int | None = Field(description="The model's place among the ranked models; null while it has taken part "
                             "in fewer debates than the board's min_debates (provisional).")
    # Defaults: a board built before ranks had a threshold is served (as stale) until its rebuild.
    provisional: bool = Field(False, description="Too few debates to rank: listed after the ranked models.")
    model_id: int
    model: str
    display_name: str
    rating: float = Field(description="Elo-like: 400 points per factor of 10 in odds; the mean (or the anchor) is 1000.")
    lower: float = Field(description="The 95% interval's lower end, from the bootstrap over debates.")
    upper: float
    wins: int
    losses: int
    ties: int
    games: int = Field(description="Outcomes (pairs of seats) this model took part in.")
    debates: int


class ConsistencyOut(Schema):
    judge_model_id: int
    judge: str
    held: int
    checked: int
    share: float


class CorrelationOut(Schema):
    rho: float | None = Field(description="Spearman's rank correlation; null with too few or constant values.")
    p_value: float | None
    n: int


class AgreementOut(Schema):
    agree: int
    votes: int
    share: float | None


class TrustOut(Schema):
    position_consistency: list[ConsistencyOut]
    length_vs_score: CorrelationOut
    judge_human_agreement: AgreementOut


class LeaderboardOut(Schema):
    status: Literal["ready", "stale"] = Field(description="stale: outcomes changed since it was computed; an "
                                              "update is being computed in the background.")
    filters: dict
    models: list[RatingOut]
    outcomes: int
    debates: int
    anchor_model_id: int | None
    min_debates: int = Field(1, description="Debates a model needs to be ranked (LeaderboardSetting).")
    unranked: int = Field(0, description="Models listed without a rank (provisional).")
    bootstrap_rounds: int
    seed: int
    trust: TrustOut
    built_at: str


class BuildingOut(Schema):
    status: Literal["building"]
    detail: str


class VoteIn(Schema):
    choice: VoteChoice = Field(description="seat (name it in seat_id), tie, or both_bad (counted as a tie).")
    seat_id: RowId | None = Field(None, description="The better seat, with choice seat.")
    blind: bool = Field(False, description="Cast before the seats' names and models were shown.")


class VoteOut(Schema):
    debate_id: int
    choice: VoteChoice
    seat_id: int | None
    blind: bool
    updated_at: str
