"""What the debates router accepts and answers. The shapes mirror debates.snapshot, which builds the dicts."""
from datetime import datetime
from typing import Annotated, Literal

from ninja import Field, Schema

from debates.formats import DEFAULT_FORMAT, FORMATS
from debates.models import MAX_PANEL, MAX_ROUNDS, MAX_SEATS, MIN_ROUNDS, MIN_SEATS, DebateStatus, TurnStatus
from providers.schemas import RowId

# PostgreSQL refuses NUL in text: refuse it here as invalid input rather than fail at the database.
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]


# ---- input ---------------------------------------------------------------------------------------
# Pydantic checks types only. Ranges, lengths, enabled models and personas are debate_create's to judge, so that
# the browser and the API answer alike and every problem is reported at once; `documented` publishes those
# limits in the OpenAPI schema (for clients, Swagger UI and schemathesis) without enforcing them a second time.
def documented(description: str, **limits) -> dict:
    return {"description": description, "json_schema_extra": limits}


class SeatIn(Schema):
    model_id: RowId = Field(description="An enabled model, from GET /api/models?enabled=true.")
    stance: Text = Field(**documented('The side this seat argues, e.g. "for" or "against".', minLength=1,
                                      maxLength=100))
    persona: Text | None = Field(None, description="A persona slug, from GET /api/personas.")
    display_name: Text = Field("", **documented("Defaults to the persona's or the model's name.", maxLength=100))
    temperature: float = Field(0.7, **documented("Sampling temperature.", minimum=0, maximum=2))
    max_tokens: int = Field(400, **documented("Longest answer, in tokens.", minimum=16, maximum=8192))
    system_prompt: Text = Field("", description="Overrides the prompt built from stance and persona.")


class DebateIn(Schema):
    topic: Text = Field(**documented("The motion.", minLength=1, maxLength=500))
    rounds: int = Field(3, **documented("How many times each seat speaks.", minimum=MIN_ROUNDS, maximum=MAX_ROUNDS))
    seats: list[SeatIn] = Field(**documented("The seats, in speaking order.", minItems=MIN_SEATS, maxItems=MAX_SEATS))
    judge_model_id: RowId = Field(description="An enabled model that scores the debate (the panel's lead judge).")
    panel_model_ids: list[RowId] = Field([], **documented(
        "Optional: up to 4 more enabled models that judge beside the lead judge, each alone and at once; the "
        "verdict takes the mean score per seat and criterion and the majority winner.", maxItems=MAX_PANEL - 1))
    budget_usd: float | None = Field(None, **documented(
        "Optional: the debate stops (failed, resumable with a higher budget) before a turn or verdict whose "
        "worst-case cost would take its spend past this. Refused when a model cannot be priced.",
        minimum=0, maximum=1_000_000))
    blind_seats: bool = Field(True, description="Debaters see each other as Speaker A, B, ... rather than by name "
                              "(the judge always does).")
    swap_check: bool = Field(True, description="Judge the transcript a second time with the seats' order and labels "
                             "reversed; a seat wins only when both readings name it. Skipped when the budget cannot "
                             "pay for it.")


    tags: list[Text] = Field([], **documented("Optional topic tags (lowercase letters, digits and hyphens); the "
                                              "leaderboard can be narrowed to one.", maxItems=10))


    format: Literal[tuple(FORMATS)] = Field(DEFAULT_FORMAT, description="rounds: every round alike; oxford: "
                                            "opening statements, rebuttal rounds, closing statements (3 rounds "
                                            "or more).")
    early_stop: bool = Field(False, description="After each round from the second, the judge model says whether "
                             "the seats now agree; if so the debate is judged there.")


class ReplayIn(Schema):
    model_id: RowId = Field(description="The model that replaces the seat's (or the judge's).")
    seat_id: RowId | None = Field(None, description="The seat whose model changes; leave it out to change the "
                                  "lead judge.")


class ResumeIn(Schema):
    budget_usd: float | None = Field(None, description="A new budget in USD (null: none). Leave it out to keep the "
                                     "debate's budget.")


class DebateListQuery(Schema):
    status: DebateStatus | None = None
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(20, ge=1, le=100)


class TranscriptQuery(Schema):
    format: Literal["json", "markdown", "text"] = "json"


# ---- output --------------------------------------------------------------------------------------
class PersonaOut(Schema):
    slug: str
    name: str
    description: str


class CriterionOut(Schema):
    key: str = Field(description="How scores name the criterion.")
    name: str
    description: str
    weight: float = Field(description="Its share of a seat's overall score.")


class DebateOut(Schema):
    id: int
    topic: str
    rounds: int
    status: DebateStatus
    display_status: Literal["draft", "running", "judging", "completed", "failed", "cancelled", "interrupted"] = Field(
        description="The status, or 'interrupted' for a running debate whose server stopped (resume it).")
    current_round: int
    failure_reason: str
    judge_model_id: int
    judge_model: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    can_start: bool
    can_cancel: bool
    can_resume: bool
    spent_usd: float = Field(description="What its priced calls cost so far (seats and judge), in USD.")
    unpriced_calls: int = Field(description="Calls that could not be priced: when above 0, spent_usd is a lower "
                                "bound and the cost is partly unknown.")
    budget_usd: float | None = Field(description="The debate's budget in USD, if it has one.")
    blind_seats: bool = Field(description="Whether the debaters see each other as labels rather than names.")
    swap_check: bool = Field(description="Whether the verdict is checked by a second reading with the seats swapped.")
    panel_model_ids: list[int] = Field(description="The judges beside the lead judge (judge_model_id), in order.")
    panel_models: list[str]
    tags: list[str]
    format: str
    format_name: str
    phases: list[dict] = Field(description='Each round\'s phase: {"round", "key", "name"} ("" for free rounds).')
    early_stop: bool
    stopped_after_round: int | None = Field(description="The round the debate stopped after, when the seats "
                                            "agreed early.")
    early_stop_reason: str
    replay_of_id: int | None = Field(description="The debate this one replays with one change.")
    replay_change: str
    criteria: list[CriterionOut] = Field(description="The rubric the debate is scored by, copied when it started "
                                           "(empty before): later edits of the rubric never change it.")


class DebatePage(Schema):
    items: list[DebateOut]
    count: int = Field(description="Debates matching the filter, on all pages.")
    page: int
    page_size: int


class SeatOut(Schema):
    id: int
    position: int
    display_name: str
    stance: str
    persona: str | None
    model_id: int
    model: str
    model_display_name: str
    temperature: float
    max_tokens: int
    spent_usd: float = Field(description="What this seat's priced turns cost, in USD.")
    unpriced_calls: int


class TurnOut(Schema):
    id: int
    seat_id: int
    round: int
    status: TurnStatus
    text: str
    text_html: str | None = Field(description="A completed turn's text rendered from Markdown as sanitised HTML (no "
                                  "raw HTML, no images, links only to http, https and mailto); null before.")
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: int | None
    cost_usd: float | None
    answered_by: str = Field(description="The model that answered, as its provider named it.")
    answered_by_model_id: int | None = Field(description="The catalog row that answered: the seat's model or one "
                                             "of its fallbacks.")
    answered_by_model: str | None
    fallback_reason: str = Field(description="Why the seat's model did not answer, when a fallback did; else empty.")
    error_kind: str
    error_message: str
    started_at: datetime | None
    completed_at: datetime | None


class CriterionScoreOut(Schema):
    key: str
    score: float
    reasoning: str


class ScoreOut(Schema):
    seat_id: int
    score: float = Field(description="The weighted mean of the seat's criterion scores (0 to 10).")
    reasoning: str = Field("", description="Verdicts given before rubrics only; reasons are now per criterion.")
    criteria: list[CriterionScoreOut] = Field([], description="The seat's score and reasoning per criterion.")


class CriterionScoreHtmlOut(CriterionScoreOut):
    reasoning_html: str = Field(description="reasoning rendered from Markdown as sanitised HTML.")


class VerdictScoreOut(ScoreOut):
    reasoning_html: str = Field(description="reasoning rendered from Markdown as sanitised HTML.")
    criteria: list[CriterionScoreHtmlOut] = Field([], description="The seat's score and reasoning per criterion.")


class Consistency(Schema):
    held: int
    checked: int


class ReadingOut(Schema):
    swapped: bool = Field(description="Read with the seats' order and labels reversed.")
    parsed: bool
    winner_seat_id: int | None
    scores: list[ScoreOut]
    raw_text: str
    parse_error: str
    cost_usd: float | None


class JudgeVerdictOut(Schema):
    position: int = Field(description="1 for the lead judge, then the panel's order.")
    judge_model_id: int | None
    judge_model: str | None
    judge_display_name: str | None
    answered_by: str
    answered_by_model_id: int | None
    answered_by_model: str | None
    fallback_reason: str
    cost_usd: float | None
    error: str = Field(description="Why this judge gave no verdict (its calls failed); it is left out of the "
                       "panel's verdict.")
    parsed: bool
    parse_error: str
    repaired: bool
    summary: str
    summary_html: str = Field(description="This judge's summary rendered from Markdown as sanitised HTML.")
    winner_seat_id: int | None = Field(description="The seat this judge named; null for a tie or no verdict.")
    key_arguments: list[str]
    scores: list[ScoreOut]
    swap_held: bool | None
    swap_note: str
    raw_text: str
    consistency: Consistency | None = Field(description="This judge model's position consistency over all debates.")
    judge_seat_ids: list[int] = Field(description="Seats whose model is this judge's (self-preference).")
    readings: list[ReadingOut]


class VerdictOut(Schema):
    parsed: bool = Field(description="False when the judge's answer could not be read; see raw_text.")
    repaired: bool
    summary: str
    summary_html: str = Field(description="summary rendered from Markdown as sanitised HTML (as text_html).")
    winner_seat_id: int | None
    key_arguments: list[str]
    key_arguments_html: list[str] = Field(description="Each of key_arguments rendered from Markdown as sanitised HTML.")
    scores: list[VerdictScoreOut]
    raw_text: str
    parse_error: str
    judge_model: str | None
    answered_by: str
    answered_by_model_id: int | None
    answered_by_model: str | None
    fallback_reason: str = Field(description="Why the judge model did not answer, when a fallback did; else empty.")
    cost_usd: float | None = Field(description="The judge's calls (with a repair request); None when unknown.")
    swap_held: bool | None = Field(description="The seat-swap check: true when both readings named the same winner, "
                                   "false when they did not (then no seat wins), null when not made.")
    swap_note: str = Field(description="What the seat-swap check found, in words; empty when it was not asked for.")
    judge_consistency: Consistency | None = Field(description="The judge model's position consistency: of its "
                                                  "seat-swap checks over all debates, how many held.")
    judge_seat_ids: list[int] = Field(description="Seats whose model is also the judge's: the verdict may favour "
                                      "them (judges tend to prefer their own model's words).")
    readings: list[ReadingOut] = Field(description="The lead judge's readings as it gave them (each judge's are in "
                                       "judges[].readings).")
    criteria: list[CriterionOut] = Field(description="The rubric the scores are given on.")
    agreement: float | None = Field(description="On a panel: the share of judges with a readable verdict whose "
                                    "result (a seat, or a tie) is the panel's; null for a single judge.")
    panel_note: str = Field(description="On a panel: what each judge named and how the verdict was reached.")
    judges: list[JudgeVerdictOut] = Field(description="Each judge's own verdict, lead judge first.")


class TotalsOut(Schema):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float = Field(description="The debate's priced calls, seats and judge (0 for free and local models).")
    unpriced_calls: int = Field(description="Calls that could not be priced; above 0, cost_usd is a lower bound.")
    latency_ms: int = Field(description="Time the seats spent answering, summed over turns.")
    completed_turns: int


class DebateDetailOut(DebateOut):
    seats: list[SeatOut]
    turns: list[TurnOut]
    verdict: VerdictOut | None
    totals: TotalsOut = Field(description="Tokens and time of the seats' turns; the cost of seats and judge.")
    last_seq: int = Field(description="The last live event this state includes (WebSocket clients resume after it).")
