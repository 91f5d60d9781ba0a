"""A debate as a document to download: JSON, Markdown or plain text. Pure functions of a snapshot dict
(debates.snapshot.debate_snapshot), so they need no database and are easy to test."""
import json
import re
from itertools import groupby

from django.utils.text import slugify

from debates.prompts import speaker_label

# format -> (content type, file extension)
FORMATS = {
    "json": ("application/json", "json"),
    "markdown": ("text/markdown; charset=utf-8", "md"),
    "text": ("text/plain; charset=utf-8", "txt"),
}
SLUG_LENGTH = 24


def debate_totals(snapshot: dict) -> dict:
    """Tokens and time of the seats' turns, and the ledger's cost of the whole debate (seats and judge)."""
    turns = snapshot["turns"]

    def total(key: str) -> int:
        return sum(turn[key] or 0 for turn in turns)

    return {"prompt_tokens": total("prompt_tokens"), "completion_tokens": total("completion_tokens"),
            "total_tokens": total("prompt_tokens") + total("completion_tokens"),
            "cost_usd": snapshot["debate"]["spent_usd"], "unpriced_calls": snapshot["debate"]["unpriced_calls"],
            "latency_ms": total("latency_ms"), "completed_turns": sum(turn["status"] == "completed" for turn in turns)}


def cost_text(spent_usd: float, unpriced_calls: int) -> str:
    """A cost as people should read it: an unpriced call is never shown as free."""
    if not unpriced_calls:
        return f"${spent_usd:.4f}"
    calls = f"{unpriced_calls} call{'s' if unpriced_calls != 1 else ''} could not be priced"
    return f"at least ${spent_usd:.4f} ({calls})" if spent_usd else f"unknown ({calls})"


def self_judging_text(verdict: dict, seats: dict) -> str:
    """The flag on a verdict whose judge model also argues in the debate, naming those seats; else ""."""
    names = [seats[seat_id]["display_name"] for seat_id in verdict.get("judge_seat_ids", []) if seat_id in seats]
    if not names:
        return ""
    return (f"The judge's model also argues in this debate ({', '.join(names)}): judges tend to favour their own "
            "model's words.")


def labels_text(seats: dict) -> str:
    """Who the judge's labels are: it read the debate by them (identity-blind), and its words use them."""
    ordered = sorted(seats.values(), key=lambda seat: seat["position"])
    return "The judge knew the seats only as " + ", ".join(
        f"{speaker_label(order)} ({seat['display_name']})" for order, seat in enumerate(ordered, start=1)) + "."


def judge_result_text(judge: dict, seats: dict) -> str:
    """What one judge of a panel found: "named Ada", "a tie", or why it gave no verdict."""
    if judge["error"]:
        return f"gave no verdict: {_one_line(judge['error'])}"
    if not judge["parsed"]:
        return "gave a verdict that could not be parsed"
    winner = _name(seats, judge["winner_seat_id"])
    return f"named {winner}" if winner else "a tie"


def agreement_text(verdict: dict) -> str:
    """ "Panel agreement: 67%" on a panel, else "". """
    agreement = verdict.get("agreement")
    return "" if agreement is None else f"Panel agreement: {100 * agreement:.0f}%"


def score_text(score: float) -> str:
    """7, 7.5, 7.3: one decimal at most (a mean of several judges is no more precise than that)."""
    return f"{score:.1f}".removesuffix(".0")


def criterion_names(verdict: dict) -> dict[str, str]:
    return {criterion["key"]: criterion["name"] for criterion in verdict.get("criteria", [])}


def consistency_text(consistency: dict | None) -> str:
    """ "This judge's seat-swap checks held in 7 of 9 debates (78%)", or "" before its first check."""
    if not consistency or not consistency["checked"]:
        return ""
    held, checked = consistency["held"], consistency["checked"]
    return (f"This judge's seat-swap checks held in {held} of {checked} debate{'s' if checked != 1 else ''} "
            f"({100 * held / checked:.0f}%)")


def budget_text(budget_usd: float | None) -> str:
    return "" if budget_usd is None else f"a ${budget_usd:.4f} budget"


def transcript_filename(snapshot: dict, fmt: str) -> str:
    """debate-12-cities-should-ban-cars.md: the id keeps names unique, a few words of the motion make them readable."""
    debate = snapshot["debate"]
    slug = slugify(debate["topic"])
    if len(slug) > SLUG_LENGTH:  # cut at a word boundary when there is one
        cut = slug[:SLUG_LENGTH + 1]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else slug[:SLUG_LENGTH]
    stem = f"debate-{debate['id']}-{slug}" if slug else f"debate-{debate['id']}"
    return f"{stem}.{FORMATS[fmt][1]}"


def render_transcript(snapshot: dict, fmt: str) -> str:
    return {"json": as_json, "markdown": as_markdown, "text": as_text}[fmt](snapshot)


def as_json(snapshot: dict) -> str:
    document = {key: snapshot[key] for key in ("debate", "seats", "turns", "verdict")}
    return json.dumps({**document, "totals": debate_totals(snapshot)}, indent=2, ensure_ascii=False)


# ---- Markdown ------------------------------------------------------------------------------------
def as_markdown(snapshot: dict) -> str:
    debate, seats = snapshot["debate"], {seat["id"]: seat for seat in snapshot["seats"]}
    lines = [f"# {_one_line(debate['topic'])}", "", *(f"- {fact}" for fact in _facts(snapshot)), "", "## Seats", ""]
    lines += [f"{seat['position']}. **{seat['display_name']}**: {seat['stance']} ({seat['model_display_name']}, "
              f"`{seat['model']}`)" for seat in snapshot["seats"]]
    for round_number, turns in groupby(snapshot["turns"], key=lambda turn: turn["round"]):
        lines += ["", f"## {_round_title(debate, round_number)}"]
        for turn in turns:
            seat = seats[turn["seat_id"]]
            lines += ["", f"### {seat['display_name']} ({seat['stance']})", "", turn["text"].strip() or "*(nothing)*"]
            if note := _turn_note(turn, seat):
                lines += ["", f"*{note}*"]
    lines += ["", "## Verdict", "", *_markdown_verdict(snapshot["verdict"], seats)]
    return "\n".join(lines).rstrip() + "\n"


def _markdown_verdict(verdict: dict | None, seats: dict) -> list[str]:
    if verdict is None:
        return ["*No verdict yet.*"]
    fallback = [f"*{fallback_note(verdict, verdict['judge_model'])}*"] if verdict["fallback_reason"] else []
    if not verdict["parsed"]:
        panel = [f"*{verdict['panel_note']}*", ""] if verdict.get("panel_note") else []
        return [f"*The judge's answer could not be read: {verdict['parse_error']}*", "", *panel,
                *_fenced(verdict["raw_text"].strip()), *fallback]
    winner = _name(seats, verdict["winner_seat_id"])
    lines = [f"**Winner: {winner}**" if winner else "**No seat wins (a tie).**", ""]
    names = criterion_names(verdict)
    header = ["Seat", "Score", *(_cell(name) for name in names.values())]
    lines += [verdict["summary"], "", f"*{labels_text(seats)}*", "", f"| {' | '.join(header)} |",
              f"|{'---|' * len(header)}"]
    for score in verdict["scores"]:
        by_key = {c["key"]: score_text(c["score"]) for c in score.get("criteria", [])}
        cells = [_cell(_name(seats, score["seat_id"])), score_text(score["score"]), *(by_key.get(k, "") for k in names)]
        lines.append(f"| {' | '.join(cells)} |")
    for score in verdict["scores"]:
        reasons = [f"- {_one_line(score['reasoning'])}"] if score.get("reasoning") else []
        reasons += [f"- {names.get(c['key'], c['key'])}: {_one_line(c['reasoning'])}" for c in score.get("criteria", [])]
        if reasons:
            lines += ["", f"{_name(seats, score['seat_id'])}:", "", *reasons]
    if verdict["key_arguments"]:
        lines += ["", "Key arguments:", "", *(f"- {_one_line(argument)}" for argument in verdict["key_arguments"])]
    if panel := _panel_lines(verdict, seats):
        lines += ["", "Panel:", "", *(f"- {line}" for line in panel)]
    for note in (verdict.get("swap_note"), verdict.get("panel_note"), agreement_text(verdict),
                 self_judging_text(verdict, seats)):
        if note:
            lines += ["", f"*{note}*"]
    return lines + ([""] + fallback if fallback else [])


def _panel_lines(verdict: dict, seats: dict) -> list[str]:
    """One line per judge of a panel (none for a single judge, whose verdict is the verdict)."""
    judges = verdict.get("judges", [])
    if len(judges) < 2:
        return []
    lines = []
    for judge in judges:
        check = f" ({_one_line(judge['swap_note'])})" if judge["swap_note"] else ""
        lines.append(f"{judge['judge_display_name'] or 'a removed model'}: {judge_result_text(judge, seats)}{check}")
    return lines


def _fenced(text: str) -> list[str]:
    # A fence longer than any run of backticks in the text, so the text cannot close it early.
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return [fence, text, fence]


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


# ---- plain text ----------------------------------------------------------------------------------
def as_text(snapshot: dict) -> str:
    debate, seats = snapshot["debate"], {seat["id"]: seat for seat in snapshot["seats"]}
    lines = [_one_line(debate["topic"]), "=" * min(len(_one_line(debate["topic"])), 78), "", *_facts(snapshot), ""]
    lines += ["Seats:", *(f"  {seat['position']}. {seat['display_name']}: {seat['stance']} "
                          f"({seat['model_display_name']})" for seat in snapshot["seats"])]
    for round_number, turns in groupby(snapshot["turns"], key=lambda turn: turn["round"]):
        title = _round_title(debate, round_number)
        lines += ["", title, "-" * len(title)]
        for turn in turns:
            seat = seats[turn["seat_id"]]
            lines += ["", f"{seat['display_name']} ({seat['stance']}):", turn["text"].strip() or "(nothing)"]
            if note := _turn_note(turn, seat):
                lines.append(f"[{note}]")
    lines += ["", "Verdict", "-------", *text_verdict(snapshot["verdict"], seats)]
    return "\n".join(lines).rstrip() + "\n"


def text_verdict(verdict: dict | None, seats: dict) -> list[str]:
    if verdict is None:
        return ["No verdict yet."]
    fallback = [f"[{fallback_note(verdict, verdict['judge_model'])}]"] if verdict["fallback_reason"] else []
    if not verdict["parsed"]:
        panel = [f"[{verdict['panel_note']}]", ""] if verdict.get("panel_note") else []
        return [f"The judge's answer could not be read: {verdict['parse_error']}", "", *panel,
                verdict["raw_text"].strip(), *fallback]
    winner = _name(seats, verdict["winner_seat_id"])
    lines = [f"Winner: {winner}" if winner else "No seat wins (a tie)."]
    names = criterion_names(verdict)
    lines += [verdict["summary"], labels_text(seats), "", "Scores:"]
    for score in verdict["scores"]:
        lines.append(f"  {_name(seats, score['seat_id'])}: {score_text(score['score'])}/10. "
                     f"{_one_line(score['reasoning'])}".rstrip())
        lines += [f"    {names.get(c['key'], c['key'])}: {score_text(c['score'])}/10. {_one_line(c['reasoning'])}"
                  for c in score.get("criteria", [])]
    if verdict["key_arguments"]:
        lines += ["", "Key arguments:", *(f"  - {_one_line(argument)}" for argument in verdict["key_arguments"])]
    if panel := _panel_lines(verdict, seats):
        lines += ["", "Panel:", *(f"  - {line}" for line in panel)]
    for note in (verdict.get("swap_note"), verdict.get("panel_note"), agreement_text(verdict),
                 self_judging_text(verdict, seats)):
        if note:
            lines += ["", f"[{note}]"]
    return lines + fallback


# ---- shared --------------------------------------------------------------------------------------
def _facts(snapshot: dict) -> list[str]:
    debate, totals = snapshot["debate"], debate_totals(snapshot)
    facts = [f"Debate {debate['id']}, {debate['display_status']}, {debate['rounds']} round(s)",
             f"Judge: {', '.join([debate['judge_model'], *debate.get('panel_models', [])])}", f"Created: {debate['created_at']}"]
    if debate["finished_at"]:
        facts.append(f"Finished: {debate['finished_at']}")
    if debate.get("tags"):
        facts.append(f"Tags: {', '.join(debate['tags'])}")
    if debate.get("format", "rounds") != "rounds":
        facts.append(f"Format: {debate['format_name']}")
    if debate.get("early_stop_reason"):
        facts.append(_one_line(debate["early_stop_reason"]))
    if debate.get("replay_of_id"):
        facts.append(f"A replay of debate {debate['replay_of_id']} with {debate['replay_change']}")
    if debate["failure_reason"]:
        facts.append(f"Failure: {_one_line(debate['failure_reason'])}")
    facts.append(f"Tokens: {totals['prompt_tokens']} prompt + {totals['completion_tokens']} completion = "
                 f"{totals['total_tokens']}, {totals['latency_ms'] / 1000:.1f} s speaking")
    seats = "; ".join(f"{seat['display_name']} {cost_text(seat['spent_usd'], seat['unpriced_calls'])}"
                      for seat in snapshot["seats"])
    budget = f" of {budget_text(debate['budget_usd'])}" if debate.get("budget_usd") is not None else ""
    facts.append(f"Cost: {cost_text(totals['cost_usd'], totals['unpriced_calls'])}{budget} ({seats})")
    return facts


def _round_title(debate: dict, round_number: int) -> str:
    """ "Round 2 · Rebuttal" where the format has phases, else "Round 2"."""
    phase = next((p["name"] for p in debate.get("phases", []) if p["round"] == round_number), "")
    return f"Round {round_number} · {phase}" if phase else f"Round {round_number}"


def _name(seats: dict, seat_id: int | None) -> str:
    return seats[seat_id]["display_name"] if seat_id in seats else ""


def _turn_note(turn: dict, seat: dict) -> str:
    if turn["status"] == "completed" and turn["fallback_reason"]:
        return fallback_note(turn, seat["model"])
    if turn["status"] == "failed":
        return f"This turn failed ({turn['error_kind'] or 'error'}): {_one_line(turn['error_message'])}".rstrip(": ")
    if turn["status"] == "streaming":
        return "Still speaking when this was exported."
    return ""


def fallback_note(answered: dict, asked_for: str) -> str:
    return f"Answered by {answered['answered_by_model']}, fallback for {asked_for} ({_one_line(answered['fallback_reason'])})"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
