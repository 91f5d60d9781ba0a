from django.contrib import admin

from debates.models import Debate, Persona, Seat, SeatScore, Turn, Verdict


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "description", "enabled"]
    list_filter = ["enabled"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}


class SeatInline(admin.TabularInline):
    model = Seat
    extra = 0
    fields = ["position", "display_name", "stance", "persona", "model", "temperature", "max_tokens"]
    raw_id_fields = ["model"]


@admin.register(Debate)
class DebateAdmin(admin.ModelAdmin):
    list_display = ["topic", "status", "rounds", "current_round", "judge_model", "created_by", "created_at"]
    list_filter = ["status"]
    list_select_related = ["judge_model__provider", "created_by"]
    search_fields = ["topic"]
    readonly_fields = ["status", "current_round", "started_at", "finished_at", "failure_reason", "last_seq",
                       "heartbeat_at", "cancel_requested", "created_at"]
    inlines = [SeatInline]


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
    readonly_fields = ["seat", "score", "reasoning"]


@admin.register(Verdict)
class VerdictAdmin(admin.ModelAdmin):
    list_display = ["debate", "parsed", "repaired", "winner", "judge_model", "created_at"]
    list_filter = ["parsed", "repaired"]
    list_select_related = ["debate", "winner", "judge_model__provider"]
    readonly_fields = [f.name for f in Verdict._meta.fields]
    inlines = [SeatScoreInline]
