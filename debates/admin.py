from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.text import Truncator

from debates import services
from debates.models import (
    Criterion, Debate, DebateCriterion, DebateStatus, JudgeVerdict, PanelJudge, Persona, Seat, SeatScore, Tag, Turn,
    Verdict,
)
from providers.models import LLMModel


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "description", "enabled"]
    list_filter = ["enabled"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Criterion)
class CriterionAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "description", "weight", "position", "enabled"]
    list_editable = ["weight", "position", "enabled"]
    list_filter = ["enabled"]
    search_fields = ["name", "key", "description"]


# ---- debates ------------------------------------------------------------------------------------
# What admin may change, by state. A draft: everything, as before; nothing reads it yet.
# Running or judging: nothing, not even its tags. Its runner reads the topic, seats and judges as it goes and
# writes the row (status, heartbeat, seq, ledger): an edit would change the debate half way through, and a save
# would put back what the runner has since moved on from. Cancel is the way to stop it.
# Interrupted (running on paper, no heartbeat for a while): nobody writes it now, but a heartbeat that is only
# late (a busy server) may come back, and Resume and Cancel go through the services, which check its state as
# they change it; an edit would not. So it stays read-only, with those two actions (and no delete: cancel first).
# Completed, failed or cancelled: only its tags, which group it (the leaderboard's filter). Its turns and verdict
# were produced from this topic, these seats and judges: changing them would make the record lie, and a failed
# one would resume as a different debate from the one it began.
EDITABLE_WHEN_FINISHED = {"tags"}
ROW_FIELDS = {field.name for field in Debate._meta.concrete_fields}


def is_draft(debate: Debate | None) -> bool:
    return debate is None or debate.status == DebateStatus.DRAFT  # None: the add page


def why_read_only(debate: Debate) -> str:
    if debate.is_interrupted:
        return (f"{label(debate)} is interrupted (its server stopped): resume it or cancel it; it cannot be "
                "edited.")
    return f"{label(debate)} is {debate.status} and its runner writes it: cancel it before changing it."


def label(debate: Debate) -> str:
    return f"Debate {debate.pk} ({Truncator(debate.topic).chars(60)})"


def error_words(error: services.DebateError) -> str:
    """The message and its problems (a model's pre-flight, say), without the field names a terminal gets."""
    return " ".join([error.message, *(text for texts in error.errors.values() for text in texts)])


class DraftOnlyInline:
    """Rows of a debate that only a draft may add, change or delete (see the states above)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return is_draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_draft(obj) and super().has_delete_permission(request, obj)


class RecordInline:
    """Rows the runner wrote (turns, scores, readings, the rubric's copy taken at the start): shown beside their
    debate or verdict, never added, edited or deleted there."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PanelJudgeInline(DraftOnlyInline, admin.TabularInline):
    model = PanelJudge
    extra = 0
    raw_id_fields = ["model"]


class DebateCriterionInline(RecordInline, admin.TabularInline):
    model = DebateCriterion
    verbose_name_plural = "rubric (this debate's copy)"
    extra = 0
    readonly_fields = ["position", "key", "name", "description", "weight"]


class SeatInline(DraftOnlyInline, admin.TabularInline):
    model = Seat
    extra = 0
    fields = ["position", "display_name", "stance", "persona", "model", "temperature", "max_tokens"]
    raw_id_fields = ["model"]


class TurnInline(RecordInline, admin.TabularInline):
    """The transcript as it stands: the runner writes it, nobody edits it."""

    model = Turn
    extra = 0
    fields = ["round", "seat", "status", "excerpt", "prompt_tokens", "completion_tokens", "cost_usd", "answered_by"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("seat")

    @admin.display(description="text")
    def excerpt(self, turn: Turn) -> str:
        return Truncator(turn.text).chars(120)


class StateFilter(admin.SimpleListFilter):
    """The status as the pages show it: an active debate whose runner stopped beating is "interrupted"."""

    title = "status"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        choices = list(DebateStatus.choices)
        return [*choices[:3], ("interrupted", "Interrupted"), *choices[3:]]

    def queryset(self, request, queryset):
        return queryset.in_state(self.value()) if self.value() else queryset


class JudgeModelFilter(admin.RelatedOnlyFieldListFilter):
    """The models that judge some debate, named with their provider in one query (not one per model)."""

    def field_choices(self, field, request, model_admin):
        judges = LLMModel.objects.filter(pk__in=model_admin.get_queryset(request).values("judge_model"))
        return [(model.pk, str(model)) for model in judges.select_related("provider")]


@admin.register(Debate)
class DebateAdmin(admin.ModelAdmin):
    list_display = ["topic", "state", "rounds", "current_round", "judge_model", "created_by", "created_at"]
    list_filter = [StateFilter, ("judge_model", JudgeModelFilter), "tags"]
    list_select_related = ["judge_model__provider", "created_by"]
    date_hierarchy = "created_at"
    search_fields = ["topic"]
    filter_horizontal = ["tags"]
    readonly_fields = ["state", "current_round", "started_at", "finished_at", "failure_reason", "last_seq",
                       "heartbeat_at", "cancel_requested", "spent_usd", "unpriced_calls", "created_at"]
    fieldsets = [
        (None, {"fields": ["topic", "rounds", "judge_model", "tags", "created_by", "created_at"]}),
        ("Run", {"fields": ["state", "current_round", "started_at", "finished_at", "failure_reason",
                            "cancel_requested"]}),
        ("Cost", {"fields": ["budget_usd", "spent_usd", "unpriced_calls"]}),
        ("Advanced", {"classes": ["collapse"], "fields": ["blind_seats", "swap_check", "last_seq", "heartbeat_at"]}),
    ]
    inlines = [SeatInline, PanelJudgeInline, DebateCriterionInline, TurnInline]
    actions = ["cancel_debates", "resume_debates"]

    @admin.display(description="status", ordering="status")
    def state(self, debate: Debate) -> str:
        return debate.display_status

    # ---- read-only once started (the states above) ----
    def get_readonly_fields(self, request, obj=None):
        if is_draft(obj):
            return self.readonly_fields
        return [name for name in flatten_fieldsets(self.fieldsets) if name not in EDITABLE_WHEN_FINISHED]

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and not (obj is not None and obj.is_active)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_active)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        debate = self.get_object(request, unquote(object_id))
        if debate is not None and debate.is_active and request.method == "POST":
            return self._refused(request, why_read_only(debate))
        if debate is not None:
            extra_context = {**(extra_context or {}), **self._buttons(debate)}
        try:
            return super().change_view(request, object_id, form_url, extra_context)
        except services.DebateStateError as error:  # it started while the form was saved: all rolled back
            return self._refused(request, error.message)

    def save_model(self, request, obj: Debate, form, change: bool) -> None:
        if not change:
            return super().save_model(request, obj, form, change)
        # Only the fields the form changed, on a row locked and in the state the form was built for: a whole-row
        # save would put back the status, heartbeat and ledger read when the form loaded, under a runner started
        # since then (a draft started, a failed debate resumed).
        current = Debate.objects.select_for_update().get(pk=obj.pk)
        if current.is_active or current.status != obj.status:
            raise services.DebateStateError(why_read_only(current) if current.is_active else
                                            f"{label(current)} became {current.status} while it was edited.")
        obj.save(update_fields=[name for name in form.changed_data if name in ROW_FIELDS])

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        # A draft may be saved half made and finished later, but its maker should know now what starting it
        # would refuse (debate_create checks the same for the pages and the API before anything is saved).
        debate = form.instance
        if is_draft(debate) and (errors := services.stored_shape_problems(debate.pk)):
            problems = services.DebateValidationError(f"Saved, but {label(debate)} cannot start yet:", errors=errors)
            self.message_user(request, error_words(problems), messages.WARNING)

    def _refused(self, request, why: str) -> HttpResponse:
        self.message_user(request, f"Nothing was saved. {why}", messages.ERROR)
        return HttpResponseRedirect(request.path)

    def _buttons(self, debate: Debate) -> dict:
        buttons = [(name, title) for name, title, offered in [("cancel", "Cancel debate", debate.can_cancel),
                                                              ("resume", "Resume debate", debate.can_resume)]
                   if offered]
        note = "" if is_draft(debate) else (why_read_only(debate) if debate.is_active else
                                            f"{label(debate)} is {debate.status}: only its tags can change.")
        return {"debate_buttons": [(reverse(f"admin:debates_debate_{name}", args=[debate.pk]), title)
                                   for name, title in buttons], "debate_note": note}

    # ---- cancel and resume, through the services the pages and the API call ----
    # They are async because they launch or stop the runner's task. Under daphne, async_to_sync runs them on the
    # server's own event loop, so a resumed debate's task outlives this request; under a WSGI server there is no
    # such loop, and the task would end with the request's.
    @admin.action(description="Cancel selected debates", permissions=["change"])
    def cancel_debates(self, request: HttpRequest, queryset) -> None:
        for debate in queryset:
            self._cancel(request, debate)

    @admin.action(description="Resume selected debates (after a pre-flight check)", permissions=["change"])
    def resume_debates(self, request: HttpRequest, queryset) -> None:
        for debate in queryset:
            self._resume(request, debate)

    def _cancel(self, request: HttpRequest, debate: Debate) -> None:
        try:
            async_to_sync(services.debate_cancel)(debate_id=debate.pk, by=request.user)
        except services.DebateError as error:
            return self.message_user(request, f"{label(debate)}: {error_words(error)}", messages.ERROR)
        debate.refresh_from_db()
        if debate.status == DebateStatus.CANCELLED:
            what = "cancelled."
        elif debate.cancel_requested:
            what = "asked to stop: its runner, in another server process, stops at its next heartbeat."
        else:
            what = "stopping: its runner, in this server process, ends it now."
        self.message_user(request, f"{label(debate)}: {what}", messages.SUCCESS)

    def _resume(self, request: HttpRequest, debate: Debate) -> None:
        try:
            async_to_sync(services.debate_resume)(debate_id=debate.pk, by=request.user)
        except services.DebateError as error:
            return self.message_user(request, f"{label(debate)}: {error_words(error)}", messages.ERROR)
        self.message_user(request, f"{label(debate)}: resumed; it carries on from its last completed turn.",
                          messages.SUCCESS)

    def get_urls(self):
        buttons = [path(f"<path:object_id>/{name}/", self.admin_site.admin_view(view), name=f"debates_debate_{name}")
                   for name, view in [("cancel", self.cancel_view), ("resume", self.resume_view)]]
        return [*buttons, *super().get_urls()]  # before the catch-all <path:object_id>/

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._button(request, object_id, self._cancel)

    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._button(request, object_id, self._resume)

    def _button(self, request: HttpRequest, object_id: str, act) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        debate = self.get_object(request, unquote(object_id))
        if debate is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        act(request, debate)
        return HttpResponseRedirect(reverse("admin:debates_debate_change", args=[debate.pk]))


class RecordAdmin:
    """What the runner wrote and the ratings read: shown, never added, changed or deleted on its own. A turn
    deleted here would make the ledger's totals and the transcript disagree, and a verdict deleted would move the
    leaderboard without its debate changing. Both go only with their debate, so their delete permission stays
    (the debate's delete page asks it of every row it takes along) while their own delete page, action and link
    are gone."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "show_delete": False})

    def delete_view(self, request, object_id, extra_context=None):
        raise PermissionDenied(f"A {self.opts.verbose_name} is deleted only with its debate.")


@admin.register(Turn)
class TurnAdmin(RecordAdmin, admin.ModelAdmin):
    list_display = ["debate", "round", "seat", "status", "completion_tokens", "latency_ms", "answered_by",
                    "error_kind"]
    list_filter = ["status", "error_kind"]
    list_select_related = ["debate", "seat"]
    search_fields = ["debate__topic", "text"]
    readonly_fields = [f.name for f in Turn._meta.fields]


class SeatScoreInline(RecordInline, admin.TabularInline):
    model = SeatScore
    extra = 0
    readonly_fields = ["seat", "score", "reasoning", "criteria"]


class JudgeVerdictInline(RecordInline, admin.StackedInline):
    model = JudgeVerdict
    extra = 0
    readonly_fields = [f.name for f in JudgeVerdict._meta.fields if f.name != "id"]


@admin.register(Verdict)
class VerdictAdmin(RecordAdmin, admin.ModelAdmin):
    list_display = ["debate", "parsed", "repaired", "winner", "judge_model", "agreement", "created_at"]
    list_filter = ["parsed", "repaired"]
    list_select_related = ["debate", "winner", "judge_model__provider"]
    readonly_fields = [f.name for f in Verdict._meta.fields]
    inlines = [SeatScoreInline, JudgeVerdictInline]
