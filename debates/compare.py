"""Two debates side by side (a replay and its original): plain data for the comparison page, from snapshots."""
from debates.transcripts import cost_text
from debates.verdict_card import verdict_card


def compare_side(snapshot: dict) -> dict:
    debate, seats = snapshot["debate"], {seat["id"]: seat for seat in snapshot["seats"]}
    verdict = snapshot["verdict"]
    return {"debate": debate, "cost": cost_text(debate["spent_usd"], debate["unpriced_calls"]),
            "verdict": verdict_card(verdict, seats) if verdict else None,
            "models": ", ".join(seat["model_display_name"] for seat in snapshot["seats"])}


def compare_rows(left: dict, right: dict) -> list[dict]:
    """Per round: its phase, and each side's turns in speaking order (name, model, text)."""
    def turns_of(snapshot: dict) -> dict[int, list[dict]]:
        seats = {seat["id"]: seat for seat in snapshot["seats"]}
        by_round: dict[int, list[dict]] = {}
        for turn in snapshot["turns"]:
            seat = seats[turn["seat_id"]]
            by_round.setdefault(turn["round"], []).append(
                {"name": seat["display_name"], "stance": seat["stance"], "model": seat["model_display_name"],
                 "text": turn["text"], "text_html": turn.get("text_html"), "status": turn["status"]})
        return by_round

    phases = {phase["round"]: phase["name"] for phase in left["debate"]["phases"]}
    a, b = turns_of(left), turns_of(right)
    return [{"round": number, "phase": phases.get(number, ""), "left": a.get(number, []), "right": b.get(number, [])}
            for number in sorted(set(a) | set(b))]
