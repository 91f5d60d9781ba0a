"""The verdict as the debate page shows it: plain data for the template, made from the snapshot's verdict dict.
debate.js builds the same card from the live `verdict` event, with the same words (debates.transcripts).

The judge's words (summary, reasoning, key arguments) are given as `*_html`: the snapshot's fields, which
debates.markdown rendered and sanitised, and the only values the template marks safe."""
from debates.transcripts import (
    agreement_text, consistency_text, criterion_names, judge_result_text, labels_text, score_text, self_judging_text,
)


def swap_class(held: bool | None) -> str:
    return {True: "held", False: "failed"}.get(held, "unchecked")


def verdict_card(verdict: dict, seats: dict[int, dict]) -> dict:
    """`seats` by id: each with its display_name and position."""
    names = criterion_names(verdict)
    judges = verdict["judges"]
    return {
        "v": verdict,
        "summary_html": verdict["summary_html"],
        "key_arguments_html": verdict["key_arguments_html"],
        "labels": labels_text(seats),
        "winner": seats.get(verdict["winner_seat_id"], {}).get("display_name", ""),
        "scores": [_score(score, seats, names) for score in verdict["scores"]],
        "swap_class": swap_class(verdict["swap_held"]),
        "consistency": consistency_text(verdict["judge_consistency"]),
        "self_judging": self_judging_text(verdict, seats),
        "agreement": agreement_text(verdict),
        "panel": [_judge(judge, seats) for judge in judges] if len(judges) > 1 else [],
    }


def _score(score: dict, seats: dict, names: dict[str, str]) -> dict:
    seat = seats.get(score["seat_id"], {"display_name": "?", "position": 0})
    return {"name": seat["display_name"], "position": seat["position"], "score": score_text(score["score"]),
            "width": round(max(0.0, min(10.0, score["score"])) * 10), "reasoning_html": score["reasoning_html"],
            "criteria": [{"name": names.get(c["key"], c["key"]), "score": score_text(c["score"]),
                          "reasoning_html": c["reasoning_html"]} for c in score.get("criteria", [])]}


def _judge(judge: dict, seats: dict) -> dict:
    return {"name": judge["judge_display_name"] or "a removed model", "result": judge_result_text(judge, seats),
            "swap_note": judge["swap_note"], "swap_class": swap_class(judge["swap_held"]),
            "consistency": consistency_text(judge["consistency"]), "self_judging": bool(judge["judge_seat_ids"]),
            "summary_html": judge["summary_html"]}
