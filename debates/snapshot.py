"""Plain-dict views of debate rows: what a snapshot, an event payload and the API all show.

The `*_html` fields are model text rendered from Markdown and sanitised (debates.markdown): the only HTML a page
may insert as HTML. A turn has one once it is completed; while it streams it is plain text."""
from debates.markdown import render
from debates.models import Debate, JudgeVerdict, Seat, SeatScore, Turn, TurnStatus, Verdict


def seat_dict(seat: Seat) -> dict:
    return {"id": seat.pk, "position": seat.position, "display_name": seat.display_name, "stance": seat.stance,
            "persona": seat.persona.slug if seat.persona_id else None,
            "persona_name": seat.persona.name if seat.persona_id else None, "model_id": seat.model_id,
            "model": seat.model.litellm_model_name, "model_display_name": seat.model.display_name,
            "temperature": seat.temperature, "max_tokens": seat.max_tokens, **spend(seat)}


def spend(row: "Debate | Seat") -> dict:
    """A ledger entry: the known cost, and how many calls could not be priced (then the cost is a lower bound)."""
    return {"spent_usd": round(row.spent_usd, 6), "unpriced_calls": row.unpriced_calls}


def turn_dict(turn: Turn) -> dict:
    return {"id": turn.pk, "seat_id": turn.seat_id, "round": turn.round, "status": turn.status, "text": turn.text,
            "text_html": turn_html(turn),
            "prompt_tokens": turn.prompt_tokens, "completion_tokens": turn.completion_tokens,
            "latency_ms": turn.latency_ms, "cost_usd": turn.cost_usd, "answered_by": turn.answered_by,
            **answered_by(turn),
            "error_kind": turn.error_kind, "error_message": turn.error_message,
            "started_at": turn.started_at.isoformat() if turn.started_at else None,
            "completed_at": turn.completed_at.isoformat() if turn.completed_at else None}


def turn_html(turn: Turn) -> str | None:
    """A completed turn's text as sanitised HTML; None before (a streaming turn's text is shown as text)."""
    return render(turn.text) if turn.status == TurnStatus.COMPLETED else None


def verdict_dict(verdict: Verdict) -> dict:
    """The panel's verdict (a single judge's is its own), with each judge's verdict and readings. The top-level
    judge fields (raw text, answered by, readings, consistency) are the lead judge's, as before panels."""
    judges = list(verdict.judges.select_related("judge_model", "answered_by_model").prefetch_related("readings"))
    own_seats = _seats_by_model(verdict.debate_id)
    panel = [judge_verdict_dict(judge, own_seats) for judge in judges]
    lead = panel[0] if panel else {"readings": [], "consistency": None}
    return {"parsed": verdict.parsed, "repaired": verdict.repaired, "summary": verdict.summary,
            "summary_html": render(verdict.summary),
            "winner_seat_id": verdict.winner_id, "key_arguments": verdict.key_arguments,
            "key_arguments_html": [render(argument) for argument in verdict.key_arguments],
            "scores": [score_dict(s) for s in verdict.scores.all()],
            "criteria": [criterion_dict(c) for c in verdict.debate.criteria.all()],
            "raw_text": verdict.raw_text, "parse_error": verdict.parse_error,
            "judge_model": verdict.judge_model.litellm_model_name if verdict.judge_model_id else None,
            "answered_by": verdict.answered_by, **answered_by(verdict), "cost_usd": verdict.cost_usd,
            "swap_held": verdict.swap_held, "swap_note": verdict.swap_note,
            "agreement": verdict.agreement, "panel_note": verdict.panel_note,
            "judge_consistency": lead["consistency"],
            "judge_seat_ids": sorted({seat for judge in panel for seat in judge["judge_seat_ids"]}),
            "readings": lead["readings"], "judges": panel}


def score_dict(score: SeatScore) -> dict:
    return {"seat_id": score.seat_id, "score": score.score, "reasoning": score.reasoning,
            "reasoning_html": render(score.reasoning),
            "criteria": [{**criterion, "reasoning_html": render(criterion.get("reasoning", ""))}
                         for criterion in score.criteria]}


def judge_verdict_dict(judge: JudgeVerdict, own_seats: dict[int, list[int]]) -> dict:
    model = judge.judge_model
    return {"position": judge.position, "judge_model_id": judge.judge_model_id,
            "judge_model": model.litellm_model_name if model else None,
            "judge_display_name": model.display_name if model else None,
            "answered_by": judge.answered_by, **answered_by(judge), "cost_usd": judge.cost_usd, "error": judge.error,
            "parsed": judge.parsed, "parse_error": judge.parse_error, "repaired": judge.repaired,
            "summary": judge.summary, "summary_html": render(judge.summary),
            "winner_seat_id": judge.winner_id, "key_arguments": judge.key_arguments,
            "scores": judge.scores, "swap_held": judge.swap_held, "swap_note": judge.swap_note,
            "raw_text": judge.raw_text, "consistency": judge_consistency(judge.judge_model_id),
            # The seats whose model is this judge's: its verdict may favour them (self-preference), and says so.
            "judge_seat_ids": own_seats.get(judge.judge_model_id, []),
            "readings": [{"swapped": r.swapped, "parsed": r.parsed, "winner_seat_id": r.winner_id, "scores": r.scores,
                          "raw_text": r.raw_text, "parse_error": r.parse_error, "cost_usd": r.cost_usd}
                         for r in judge.readings.all()]}


def criterion_dict(criterion) -> dict:
    return {"key": criterion.key, "name": criterion.name, "description": criterion.description,
            "weight": criterion.weight}


def _seats_by_model(debate_id: int) -> dict[int, list[int]]:
    seats: dict[int, list[int]] = {}
    for seat_id, model_id in Seat.objects.filter(debate_id=debate_id).values_list("pk", "model_id"):
        seats.setdefault(model_id, []).append(seat_id)
    return seats


def judge_consistency(judge_model_id: int | None) -> dict | None:
    """How often this judge model kept its winner under a seat swap, over every debate it judged."""
    if not judge_model_id:
        return None
    held, checked = JudgeVerdict.objects.position_consistency(judge_model_id)
    return {"held": held, "checked": checked}


def answered_by(row: Turn | Verdict | JudgeVerdict) -> dict:
    """Which catalog row answered (the one asked, or a fallback for it) and why the ones before it did not."""
    model = row.answered_by_model if row.answered_by_model_id else None
    return {"answered_by_model_id": row.answered_by_model_id,
            "answered_by_model": model.litellm_model_name if model else None, "fallback_reason": row.fallback_reason}


def debate_dict(debate: Debate) -> dict:
    return {"id": debate.pk, "topic": debate.topic, "rounds": debate.rounds, "status": debate.status,
            "display_status": debate.display_status, "current_round": debate.current_round,
            "failure_reason": debate.failure_reason, "judge_model_id": debate.judge_model_id,
            "judge_model": debate.judge_model.litellm_model_name,
            "created_at": debate.created_at.isoformat(),
            "started_at": debate.started_at.isoformat() if debate.started_at else None,
            "finished_at": debate.finished_at.isoformat() if debate.finished_at else None,
            "can_start": debate.can_start, "can_cancel": debate.can_cancel, "can_resume": debate.can_resume,
            **spend(debate), "budget_usd": debate.budget_usd,
            "blind_seats": debate.blind_seats, "swap_check": debate.swap_check,
            # .all(): a listing prefetches them (Debate.objects.with_listing)
            "panel_model_ids": [place.model_id for place in debate.panel.all()],
            "panel_models": [place.model.litellm_model_name for place in debate.panel.all()],
            "criteria": [criterion_dict(c) for c in debate.criteria.all()],
            "tags": [tag.name for tag in debate.tags.all()],
            "format": debate.format, "format_name": debate.debate_format.name,
            "phases": [{"round": number, "key": phase.key, "name": debate.debate_format.label_of(number, debate.rounds)}
                       for number, phase in debate.debate_format.plan(debate.rounds)],
            "early_stop": debate.early_stop, "stopped_after_round": debate.stopped_after_round,
            "early_stop_reason": debate.early_stop_reason,
            "replay_of_id": debate.replay_of_id, "replay_change": debate.replay_change}


def debate_snapshot(debate_id: int) -> dict:
    """Everything said so far, including the text of a turn in progress, as of `last_seq`."""
    debate = Debate.objects.select_related("judge_model__provider").get(pk=debate_id)
    seats = list(debate.seats.select_related("model__provider", "persona"))
    turns = list(debate.turns.select_related("answered_by_model__provider"))
    verdict = (Verdict.objects.filter(debate=debate)
               .select_related("judge_model__provider", "answered_by_model__provider").first())
    return {"debate": debate_dict(debate), "seats": [seat_dict(s) for s in seats],
            "turns": [turn_dict(t) for t in turns], "verdict": verdict_dict(verdict) if verdict else None,
            "last_seq": debate.last_seq}
