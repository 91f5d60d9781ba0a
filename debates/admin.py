from django.contrib import admin

from debates.models import (
    Criterion, Debate, DebateCriterion, JudgeVerdict, PanelJudge, Persona, Seat, SeatScore, Tag, Turn, Verdict,
)


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


class PanelJudgeInline(admin.TabularInline):
    model = PanelJudge
    extra = 0
    raw_id_fields = ["model"]


class DebateCriterionInline(admin.TabularInline):
    model = DebateCriterion
    extra = 0
    can_delete = False
    readonly_fields = ["position", "key", "name", "description", "weight"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # the copy is taken when the debate starts, never edited


class SeatInline(admin.TabularInline):
    model = Seat
    extra = 0
    fields = ["position", "display_name", "stance", "persona", "model", "temperature", "max_tokens"]
    raw_id_fields = ["model"]


@admin.register(Debate)
class DebateAdmin(admin.ModelAdmin):
    list_display = ["topic", "status", "rounds", "current_round", "judge_model", "created_by", "created_at"]
    list_filter = ["status", "tags"]
    list_select_related = ["judge_model__provider", "created_by"]
    search_fields = ["topic"]
    filter_horizontal = ["tags"]
    readonly_fields = ["status", "current_round", "started_at", "finished_at", "failure_reason", "last_seq",
                       "heartbeat_at", "cancel_requested", "created_at"]
    inlines = [SeatInline, PanelJudgeInline, DebateCriterionInline]


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ["debate", "round", "seat", "status", "completion_tokens", "latency_ms", "answered_by",
                    "error_kind"]
    list_filter = ["status", "error_kind"]
    list_select_related = ["debate", "seat"]
    search_fields = ["debate__topic", "text"]
    readonly_fields = [f.name for f in Turn._meta.fields]


class SeatScoreInline(admin.TabularInline):
    model = SeatScore
    extra = 0
    readonly_fields = ["seat", "score", "reasoning", "criteria"]


class JudgeVerdictInline(admin.StackedInline):
    model = JudgeVerdict
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in JudgeVerdict._meta.fields if f.name != "id"]


@admin.register(Verdict)
class VerdictAdmin(admin.ModelAdmin):
    list_display = ["debate", "parsed", "repaired", "winner", "judge_model", "agreement", "created_at"]
    list_filter = ["parsed", "repaired"]
    list_select_related = ["debate", "winner", "judge_model__provider"]
    readonly_fields = [f.name for f in Verdict._meta.fields]
    inlines = [SeatScoreInline, JudgeVerdictInline]
