"""How far to trust the ratings: each judge model's position consistency, whether longer turns score higher, and
how often judges and people agree."""
from django.db.models import Count, Q, Sum
from django.db.models.functions import Length

from debates.models import JudgeVerdict, SeatScore, Turn, TurnStatus, Verdict
from ratings import fit
from ratings.models import Vote, VoteChoice


def trust_figures(debates) -> dict:
    return {"position_consistency": position_consistency(debates), "length_vs_score": length_vs_score(debates),
            "judge_human_agreement": judge_human_agreement(debates)}


def position_consistency(debates) -> list[dict]:
    """Per judge model, of its seat-swap checks on these debates that could be read both ways, how many held."""
    rows = (JudgeVerdict.objects.filter(verdict__debate__in=debates, swap_held__isnull=False)
            .values("judge_model_id", "judge_model__display_name", "judge_model__provider__litellm_provider",
                    "judge_model__model_name")
            .annotate(checked=Count("pk"), held=Count("pk", filter=Q(swap_held=True))).order_by("-checked"))
    return [{"judge_model_id": row["judge_model_id"], "judge": row["judge_model__display_name"],
             "held": row["held"], "checked": row["checked"], "share": row["held"] / row["checked"]}
            for row in rows if row["judge_model_id"]]


def length_vs_score(debates) -> dict:
    """Spearman's rank correlation between the length of a seat's words (characters, all its completed turns)
    and the overall score the verdict gave it: judges are known to reward length."""
    lengths = dict(Turn.objects.filter(debate__in=debates, status=TurnStatus.COMPLETED).values("seat_id")
                   .annotate(chars=Sum(Length("text"))).values_list("seat_id", "chars"))
    pairs = [(lengths[seat_id], score) for seat_id, score in
             SeatScore.objects.filter(verdict__debate__in=debates, verdict__parsed=True)
             .values_list("seat_id", "score") if seat_id in lengths]
    correlation = fit.spearman([x for x, _ in pairs], [y for _, y in pairs])
    if correlation is None:  # too few seats, or all the same: nothing to say
        return {"rho": None, "p_value": None, "n": len(pairs)}
    return {"rho": correlation.rho, "p_value": correlation.p_value, "n": correlation.n}


def judge_human_agreement(debates) -> dict:
    """Of the votes on debates with a parsed verdict, the share that name what the verdict named (the same seat,
    or a tie; "both bad" counts as a tie, as in the ratings)."""
    winners = dict(Verdict.objects.filter(debate__in=debates, parsed=True).values_list("debate_id", "winner_id"))
    votes = Vote.objects.filter(debate_id__in=list(winners)).values_list("debate_id", "choice", "seat_id")
    agree = [winners[debate_id] == (seat_id if choice == VoteChoice.SEAT else None)
             for debate_id, choice, seat_id in votes]
    return {"agree": sum(agree), "votes": len(agree), "share": sum(agree) / len(agree) if agree else None}
