from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Count, Q, Sum
from django.utils import timezone

from debates.formats import DEFAULT_FORMAT, FORMATS, Format
from debates.prompts import CriterionView
from providers.models import LLMModel

MIN_SEATS, MAX_SEATS = 2, 6
MIN_ROUNDS, MAX_ROUNDS = 1, 10
MAX_PANEL = 5  # judges on one debate, the lead judge included
# A runner renews its lease (the heartbeat) every couple of seconds; one silent for this long is gone, and any
# server process may take its debate over (debates.takeover).
RUNNER_STALE_AFTER = timedelta(seconds=10)


class Persona(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    prompt_template = models.TextField(help_text="How this persona argues; {stance} is replaced by the seat's stance.")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def render(self, stance: str) -> str:
        return self.prompt_template.replace("{stance}", stance)


criterion_key = RegexValidator(
    r"^[a-z][a-z0-9_]{0,39}$", "Use lowercase letters, digits and underscores, starting with a letter: the judge's "
    "JSON names the criterion by this key.")


class RubricLine:
    def as_view(self) -> CriterionView:
        """As the prompts and the verdict's arithmetic take it: plain data."""
        return CriterionView(key=self.key, name=self.name, description=self.description, weight=self.weight)


# The rubric a new install starts with (seeded by migration 0006) and the one used while none is enabled.
DEFAULT_RUBRIC = [
    ("argument_strength", "Argument strength", "How sound, clear and well built the speaker's case is."),
    ("use_of_evidence", "Use of evidence", "How well facts, examples and sources support the claims."),
    ("responsiveness", "Responsiveness", "How directly the speaker answers the other side's strongest points."),
]


class CriterionQuerySet(models.QuerySet):
    def rubric(self) -> list["Criterion"]:
        """The criteria a debate starting now is scored by; while none is enabled, the default rubric (unsaved)."""
        return list(self.filter(enabled=True)) or [
            Criterion(key=key, name=name, description=description, weight=1.0, position=position)
            for position, (key, name, description) in enumerate(DEFAULT_RUBRIC, start=1)]


class Criterion(RubricLine, models.Model):
    """A line of the rubric judges score each seat by. Each debate copies the rubric when it starts, so an edit
    here applies to debates started afterwards and never rewrites a verdict already given."""

    key = models.CharField(max_length=40, unique=True, validators=[criterion_key])
    name = models.CharField(max_length=100)
    description = models.CharField("what it means", max_length=300)
    weight = models.FloatField(default=1.0, validators=[MinValueValidator(0.01), MaxValueValidator(100.0)],
                               help_text="Its share of a seat's overall score, the weighted mean of its criteria.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Criteria are listed and asked in this order.")
    enabled = models.BooleanField(default=True)

    objects = CriterionQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]
        verbose_name_plural = "rubric criteria"

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """A topic tag: debates carry any number, and the leaderboard can be narrowed to one."""

    name = models.SlugField(max_length=40, unique=True, help_text="Lowercase letters, digits and hyphens.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DebateStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    JUDGING = "judging", "Judging"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (DebateStatus.RUNNING, DebateStatus.JUDGING)


class DebateQuerySet(models.QuerySet):
    def with_listing(self) -> "DebateQuerySet":
        return self.select_related("judge_model__provider", "verdict__winner").prefetch_related(
            "seats__model", "panel__model__provider", "criteria", "tags")

    def in_state(self, state: str) -> "DebateQuerySet":
        """Debates whose `display_status` is `state`: "interrupted" is an active one whose runner stopped beating."""
        stale = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=timezone.now() - RUNNER_STALE_AFTER)
        if state == "interrupted":
            return self.filter(stale, status__in=ACTIVE_STATUSES)
        if state in ACTIVE_STATUSES:
            return self.filter(status=state).exclude(stale)
        return self.filter(status=state)


class Debate(models.Model):
    topic = models.CharField(max_length=500)
    rounds = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(MIN_ROUNDS), MaxValueValidator(MAX_ROUNDS)]
    )
    status = models.CharField(max_length=10, choices=DebateStatus.choices, default=DebateStatus.DRAFT)
    judge_model = models.ForeignKey(LLMModel, on_delete=models.PROTECT, related_name="judged_debates")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    current_round = models.PositiveSmallIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    # The runner's bookkeeping: the last event number, its heartbeat, and a cancel asked from elsewhere.
    last_seq = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The lease: which runner may write this debate (empty: none). It holds it until RUNNER_STALE_AFTER past its
    # last heartbeat; every write it makes is conditional on still holding it (debates.events).
    runner_token = models.CharField(max_length=32, blank=True)
    # Where that runner lives ("host:pid@start", leases.py): a process on the same host can tell at once that it is
    # dead, without waiting for its lease to run out (a restarted server takes its own debates back at start-up).
    runner = models.CharField(max_length=100, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # The cost ledger: what the completed turns and the verdict cost (refresh_spend), and how many of those calls
    # could not be priced (then the total is a lower bound, and says so).
    spent_usd = models.FloatField(default=0.0)
    unpriced_calls = models.PositiveIntegerField(default=0)
    # Optional: the debate stops (failed, resumable with a higher one) before a call that could take it past this.
    budget_usd = models.FloatField("budget (USD)", null=True, blank=True, validators=[MinValueValidator(0.0)])
    # The judge never learns who sits where; with this on, neither do the debaters: identity cues change how
    # models defer to each other. Names stay on the page and in the transcripts, for people.
    blind_seats = models.BooleanField(
        "debaters see labels", default=True,
        help_text="Debaters see each other as Speaker A, B, ... rather than by name.")
    swap_check = models.BooleanField(
        "seat-swap check", default=True,
        help_text="Judge the transcript again with the seats' order and labels reversed; a win counts only when "
        "both readings name the same seat. Skipped when the budget cannot pay for the second reading.")

    tags = models.ManyToManyField(Tag, blank=True, related_name="debates")
    format = models.CharField(max_length=20, default=DEFAULT_FORMAT,
                              choices=[(key, chosen.name) for key, chosen in FORMATS.items()])
    # Early stop: after each round from the second, the judge model says whether the seats now agree; when they
    # do, the debate is judged there. The round it stopped after and why, for every place that shows it.
    early_stop = models.BooleanField("stop early on consensus", default=False)
    stopped_after_round = models.PositiveSmallIntegerField(null=True, blank=True)
    early_stop_reason = models.TextField(blank=True)
    # What the convergence questions cost (they are neither turns nor the verdict), for the ledger.
    convergence_usd = models.FloatField(default=0.0)
    convergence_unpriced = models.PositiveIntegerField(default=0)
    # The judges' answered calls of a verdict that never came (every judge failed): paid all the same, and kept
    # when the debate is resumed and judged again.
    unjudged_usd = models.FloatField(default=0.0)
    unjudged_unpriced = models.PositiveIntegerField(default=0)
    # A replay: the debate it repeats with one change, and that change in words.
    replay_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays")
    replay_change = models.CharField(max_length=300, blank=True)

    objects = DebateQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.topic

    @property
    def debate_format(self) -> Format:
        return FORMATS[self.format]

    @property
    def last_round(self) -> int:
        """The round the debate ends after: its last, or the one it stopped early after."""
        return self.stopped_after_round or self.rounds

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_interrupted(self) -> bool:
        """Running on paper, but no runner has beaten for a while: the server that ran it stopped."""
        if not self.is_active:
            return False
        return self.heartbeat_at is None or timezone.now() - self.heartbeat_at > RUNNER_STALE_AFTER

    @property
    def can_start(self) -> bool:
        return self.status == DebateStatus.DRAFT

    @property
    def can_cancel(self) -> bool:
        return self.status in (DebateStatus.DRAFT, *ACTIVE_STATUSES)

    @property
    def can_resume(self) -> bool:
        return self.status in (DebateStatus.FAILED, DebateStatus.CANCELLED) or self.is_interrupted

    def can_be_changed_by(self, user) -> bool:
        """Anyone signed in may watch; only its creator or staff may start, stop, resume or delete it."""
        return user.is_staff or (self.created_by_id is not None and self.created_by_id == user.pk)

    @property
    def display_status(self) -> str:
        return "interrupted" if self.is_interrupted else self.status

    def judge_model_ids(self) -> list[int]:
        """The panel in order: the lead judge, then the others."""
        return [self.judge_model_id, *self.panel.values_list("model_id", flat=True)]

    def rubric(self) -> list["DebateCriterion"]:
        """The criteria this debate is scored by: its own copy once started, else the rubric as it stands."""
        return list(self.criteria.all()) or [DebateCriterion.copy_of(c, self, position=i)
                                             for i, c in enumerate(Criterion.objects.rubric(), start=1)]

    def copy_rubric(self) -> None:
        """Freeze the rubric for this debate (once: a resumed debate keeps the copy it started with)."""
        if not self.criteria.exists():
            DebateCriterion.objects.bulk_create(self.rubric())

    def refresh_spend(self) -> dict:
        """Recompute the ledger of the debate and of each seat from the rows that cost money; what changed."""
        costs = {row["seat_id"]: row for row in self.turns.filter(status=TurnStatus.COMPLETED).values("seat_id")
                 .annotate(spent=Sum("cost_usd", default=0.0), unpriced=Count("pk", filter=Q(cost_usd__isnull=True)))}
        seats = []
        for seat in self.seats.all():
            row = costs.get(seat.pk, {"spent": 0.0, "unpriced": 0})
            if (seat.spent_usd, seat.unpriced_calls) != (row["spent"], row["unpriced"]):  # a turn changes one seat
                seat.spent_usd, seat.unpriced_calls = row["spent"], row["unpriced"]
                seat.save(update_fields=["spent_usd", "unpriced_calls"])
            seats.append({"seat_id": seat.pk, "spent_usd": seat.spent_usd, "unpriced_calls": seat.unpriced_calls})
        verdicts = list(Verdict.objects.filter(debate=self).values_list("cost_usd", flat=True))  # none or one
        self.spent_usd = (sum(seat["spent_usd"] for seat in seats) + sum(cost or 0.0 for cost in verdicts)
                          + self.convergence_usd + self.unjudged_usd)
        self.unpriced_calls = (sum(seat["unpriced_calls"] for seat in seats) + verdicts.count(None)
                               + self.convergence_unpriced + self.unjudged_unpriced)
        Debate.objects.filter(pk=self.pk).update(spent_usd=self.spent_usd, unpriced_calls=self.unpriced_calls)
        return {"spent_usd": self.spent_usd, "unpriced_calls": self.unpriced_calls, "seats": seats}


class PanelJudge(models.Model):
    """A judge beside the lead one (Debate.judge_model): each judges alone, and the verdict combines them."""

    debate = models.ForeignKey(Debate, on_delete=models.CASCADE, related_name="panel")
    position = models.PositiveSmallIntegerField()  # 2 to MAX_PANEL; the lead judge is 1
    model = models.ForeignKey(LLMModel, on_delete=models.PROTECT, related_name="panel_seats")

    class Meta:
        ordering = ["debate", "position"]
        constraints = [models.UniqueConstraint(fields=["debate", "model"], name="one_panel_place_per_model")]


class DebateCriterion(RubricLine, models.Model):
    """The debate's own copy of a rubric criterion, taken when it started."""

    debate = models.ForeignKey(Debate, on_delete=models.CASCADE, related_name="criteria")
    position = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=40)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300)
    weight = models.FloatField()

    class Meta:
        ordering = ["debate", "position"]
        constraints = [models.UniqueConstraint(fields=["debate", "key"], name="one_criterion_per_key")]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def copy_of(cls, criterion: Criterion, debate: Debate, position: int = 0) -> "DebateCriterion":
        return cls(debate=debate, position=position, key=criterion.key, name=criterion.name,
                   description=criterion.description, weight=criterion.weight)


class Seat(models.Model):
    debate = models.ForeignKey(Debate, on_delete=models.CASCADE, related_name="seats")
    position = models.PositiveSmallIntegerField()
    display_name = models.CharField(max_length=100)
    stance = models.CharField(max_length=100)
    persona = models.ForeignKey(Persona, null=True, blank=True, on_delete=models.SET_NULL)
    system_prompt = models.TextField(blank=True)
    model = models.ForeignKey(LLMModel, on_delete=models.PROTECT, related_name="seats")
    temperature = models.FloatField(default=0.7, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)])
    max_tokens = models.PositiveIntegerField(default=400, validators=[MinValueValidator(16), MaxValueValidator(8192)])
    spent_usd = models.FloatField(default=0.0)  # this seat's part of the ledger (Debate.refresh_spend)
    unpriced_calls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["debate", "position"]
        constraints = [models.UniqueConstraint(fields=["debate", "position"], name="unique_seat_position")]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.stance})"


class TurnStatus(models.TextChoices):
    STREAMING = "streaming", "Streaming"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class TurnQuerySet(models.QuerySet):
    def cut_off(self, reason: str) -> int:
        """Mark turns still streaming as failed: a debate that ended mid-turn rewrites them on resume."""
        return self.filter(status=TurnStatus.STREAMING).update(
            status=TurnStatus.FAILED, error_kind=reason, completed_at=timezone.now())


class Turn(models.Model):
    debate = models.ForeignKey(Debate, on_delete=models.CASCADE, related_name="turns")
    seat = models.ForeignKey(Seat, on_delete=models.CASCADE, related_name="turns")
    round = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=TurnStatus.choices, default=TurnStatus.STREAMING)
    text = models.TextField(blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.FloatField(null=True, blank=True)
    answered_by = models.CharField("model that answered", max_length=200, blank=True)  # as the provider named it
    answered_by_model = models.ForeignKey(LLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                          help_text="The catalog row that answered: the seat's model or a fallback.")
    fallback_reason = models.TextField(blank=True, help_text="Why the seat's model did not answer, when a fallback did.")
    error_kind = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = TurnQuerySet.as_manager()

    class Meta:
        ordering = ["round", "seat__position"]
        # One turn per seat and round, whatever happens: a resumed debate rewrites, never duplicates.
        constraints = [models.UniqueConstraint(fields=["seat", "round"], name="one_turn_per_seat_and_round")]

    def __str__(self) -> str:
        return f"Round {self.round}, {self.seat.display_name}"


class Verdict(models.Model):
    debate = models.OneToOneField(Debate, on_delete=models.CASCADE, related_name="verdict")
    judge_model = models.ForeignKey(LLMModel, null=True, on_delete=models.SET_NULL, related_name="+")
    answered_by = models.CharField(max_length=200, blank=True)
    answered_by_model = models.ForeignKey(LLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    fallback_reason = models.TextField(blank=True)
    cost_usd = models.FloatField(null=True, blank=True, help_text="The judge's calls; empty when they could not be priced.")
    raw_text = models.TextField(blank=True)
    parsed = models.BooleanField(default=False)
    parse_error = models.TextField(blank=True)
    repaired = models.BooleanField(default=False, help_text="The judge needed a second request to give valid JSON.")
    summary = models.TextField(blank=True)
    winner = models.ForeignKey(Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    key_arguments = models.JSONField(default=list, blank=True)
    # The seat-swap check: whether both readings named the same winner (None: not checked, or a reading unparsed),
    # and what happened, in words, for every place that shows the verdict. On a panel: whether every judge's held.
    swap_held = models.BooleanField(null=True, blank=True)
    swap_note = models.TextField(blank=True)
    # A panel: the share of the judges whose verdict could be read that named the combined result, and in words.
    agreement = models.FloatField(null=True, blank=True)
    panel_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Verdict on {self.debate}"


class JudgeVerdictQuerySet(models.QuerySet):
    def position_consistency(self, judge_model_id: int) -> tuple[int, int]:
        """(held, checked): of this judge model's seat-swap checks that could be read both ways, how many held."""
        checked = self.filter(judge_model_id=judge_model_id, swap_held__isnull=False)
        return checked.filter(swap_held=True).count(), checked.count()


class JudgeVerdict(models.Model):
    """One judge's verdict (its readings combined by the seat-swap check); the Verdict combines the panel's."""

    verdict = models.ForeignKey(Verdict, on_delete=models.CASCADE, related_name="judges")
    position = models.PositiveSmallIntegerField()  # 1: the lead judge
    judge_model = models.ForeignKey(LLMModel, null=True, on_delete=models.SET_NULL, related_name="+")
    answered_by = models.CharField(max_length=200, blank=True)
    answered_by_model = models.ForeignKey(LLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    fallback_reason = models.TextField(blank=True)
    cost_usd = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why this judge gave no verdict: its calls failed.")
    raw_text = models.TextField(blank=True)
    parsed = models.BooleanField(default=False)
    parse_error = models.TextField(blank=True)
    repaired = models.BooleanField(default=False)
    summary = models.TextField(blank=True)
    winner = models.ForeignKey(Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    key_arguments = models.JSONField(default=list, blank=True)
    scores = models.JSONField(default=list, blank=True,
                              help_text='[{"seat_id": ..., "score": ..., "criteria": [{"key", "score", "reasoning"}]}]')
    swap_held = models.BooleanField(null=True, blank=True)
    swap_note = models.TextField(blank=True)

    objects = JudgeVerdictQuerySet.as_manager()

    class Meta:
        ordering = ["verdict", "position"]
        constraints = [models.UniqueConstraint(fields=["verdict", "position"], name="one_place_per_judge")]


class VerdictReading(models.Model):
    """One reading of the transcript by a judge: in speaking order, or with the seats' order and labels reversed.
    The judge's verdict combines them; each is kept as the judge gave it."""

    judge = models.ForeignKey(JudgeVerdict, on_delete=models.CASCADE, related_name="readings")
    swapped = models.BooleanField(default=False)
    answered_by_model = models.ForeignKey(LLMModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cost_usd = models.FloatField(null=True, blank=True)
    raw_text = models.TextField(blank=True)
    parsed = models.BooleanField(default=False)
    parse_error = models.TextField(blank=True)
    winner = models.ForeignKey(Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    scores = models.JSONField(default=list, blank=True, help_text='[{"seat_id": ..., "score": ..., "reasoning": ...}]')

    class Meta:
        ordering = ["judge", "swapped"]
        constraints = [models.UniqueConstraint(fields=["judge", "swapped"], name="one_reading_per_judge_and_order")]


class SeatScore(models.Model):
    verdict = models.ForeignKey(Verdict, on_delete=models.CASCADE, related_name="scores")
    seat = models.ForeignKey(Seat, on_delete=models.CASCADE, related_name="scores")
    score = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(10.0)],
                              help_text="The weighted mean of the seat's criterion scores.")
    reasoning = models.TextField(blank=True)  # verdicts given before rubrics; the reasons are now per criterion
    criteria = models.JSONField(default=list, blank=True, help_text='[{"key": ..., "score": ..., "reasoning": ...}]')

    class Meta:
        ordering = ["seat__position"]
        constraints = [models.UniqueConstraint(fields=["verdict", "seat"], name="one_score_per_seat")]
