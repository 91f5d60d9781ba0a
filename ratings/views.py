"""/leaderboard/, and the blind vote: a finished debate's transcript with the seats as labels until the vote."""
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from debateproject.ids import parse_id
from debates.models import Debate, DebateStatus
from debates.prompts import speaker_label
from debates.services import DebateError
from debates.snapshot import debate_snapshot
from ratings import board, chart
from ratings.forms import FilterForm
from ratings.models import VoteChoice
from ratings.services import vote_cast

REFRESH_SECONDS = 2


@login_required
def leaderboard(request: HttpRequest) -> HttpResponse:
    form = FilterForm(request.GET)  # every filter is optional: no query is the whole board
    data, fresh = board.current(form.filters()) if form.is_valid() else (None, True)
    return render(request, "ratings/leaderboard.html", {
        "form": form, "board": data, "fresh": fresh, "chart": chart.whiskers(data["models"]) if data else None,
        # A board being built: the page asks again shortly (a plain refresh, so it works without JavaScript).
        "refresh": None if fresh else REFRESH_SECONDS,
    })


@login_required
def blind_vote(request: HttpRequest, debate_id: int) -> HttpResponse:
    """The transcript with every seat as "Speaker A, B, ..." and nothing else about it: no name, model or verdict.
    The vote reveals them (the debate's page)."""
    debate = Debate.objects.filter(pk=debate_id, status=DebateStatus.COMPLETED).first()
    if debate is None:
        raise Http404("Only a finished debate can be voted on.")
    snapshot = debate_snapshot(debate_id)
    labels = {seat["id"]: speaker_label(index) for index, seat in enumerate(snapshot["seats"], start=1)}
    error = ""
    if request.method == "POST":
        seat = request.POST.get("seat")
        choice = VoteChoice.SEAT if seat else request.POST.get("choice", "")
        try:
            vote_cast(debate_id=debate_id, user=request.user, choice=choice,
                      seat_id=parse_id(seat), blind=True)
        except DebateError as problem:
            error = " ".join([problem.message, *(m for ms in problem.errors.values() for m in ms)])
        else:
            return redirect(reverse("debates:detail", kwargs={"debate_id": debate_id}) + "#vote")
    turns = [{"speaker": labels[t["seat_id"]], "stance": next(s["stance"] for s in snapshot["seats"]
                                                              if s["id"] == t["seat_id"]),
              "round": t["round"], "text_html": t["text_html"]} for t in snapshot["turns"]
             if t["status"] == "completed"]
    seats = [{"id": seat["id"], "label": labels[seat["id"]], "stance": seat["stance"]} for seat in snapshot["seats"]]
    return render(request, "ratings/blind_vote.html", {"debate": debate, "turns": turns, "seats": seats,
                                                       "error": error})
