"""Human votes on finished debates, the leaderboard's settings, and the boards built from outcomes (a cache)."""
from django.conf import settings
from django.db import models

from debates.models import Debate, Seat
from providers.models import LLMModel


class VoteChoice(models.TextChoices):
    SEAT = "seat", "This seat was better"
    TIE = "tie", "A tie"
    BOTH_BAD = "both_bad", "Both bad"


class Vote(models.Model):
    """One person's view of a finished debate: the better seat, a tie, or "both bad" (counted as a tie)."""

    debate = models.ForeignKey(Debate, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="debate_votes")
    choice = models.CharField(max_length=10, choices=VoteChoice.choices)
    seat = models.ForeignKey(Seat, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    blind = models.BooleanField(default=False, help_text="Cast before the seats' models and names were shown.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [models.UniqueConstraint(fields=["debate", "user"], name="one_vote_per_user_and_debate")]

    def __str__(self) -> str:
        return f"{self.user} on {self.debate}: {self.get_choice_display()}"


class LeaderboardSetting(models.Model):
    """One row: how ratings are placed on their scale."""

    anchor_model = models.ForeignKey(
        LLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="This model is rated exactly 1000 and the others relative to it; empty: the mean is 1000.")
    # A rating from one or two debates is mostly luck (a model that won its only debate tops a board of models
    # with hundreds): it is shown, with its wide interval, but not given a place in the ranking.
    min_debates = models.PositiveSmallIntegerField(
        default=3, help_text="A model is ranked once it has taken part in this many debates of the board; with "
        "fewer it is listed below the ranked ones, unranked. 1 ranks every model.")

    class Meta:
        verbose_name = "leaderboard setting"

    def __str__(self) -> str:
        return "Leaderboard settings"

    @classmethod
    def load(cls) -> "LeaderboardSetting":
        row, _ = cls.objects.get_or_create(pk=1)
        return row


class Board(models.Model):
    """A leaderboard as last built for one set of filters; `version` names the outcomes it was built from, so a
    board whose outcomes changed since is stale and is rebuilt in the background, never in a request."""

    key = models.CharField(max_length=300, unique=True)
    version = models.CharField(max_length=200)
    data = models.JSONField()
    built_at = models.DateTimeField(auto_now=True)
    build_seconds = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return self.key
