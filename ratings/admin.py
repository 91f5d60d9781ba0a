from django.contrib import admin

from ratings.models import Board, LeaderboardSetting, Vote


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ["debate", "user", "choice", "seat", "blind", "updated_at"]
    list_filter = ["choice", "blind"]
    list_select_related = ["debate", "user", "seat"]
    search_fields = ["debate__topic", "user__username"]
    readonly_fields = ["debate", "user", "choice", "seat", "blind", "created_at", "updated_at"]


@admin.register(LeaderboardSetting)
class LeaderboardSettingAdmin(admin.ModelAdmin):
    list_display = ["__str__", "anchor_model", "min_debates"]
    raw_id_fields = ["anchor_model"]

    def has_add_permission(self, request) -> bool:
        return not LeaderboardSetting.objects.exists()  # one row

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = ["key", "version", "built_at", "build_seconds"]
    readonly_fields = ["key", "version", "data", "built_at", "build_seconds"]

    def has_add_permission(self, request) -> bool:
        return False  # built from outcomes, never by hand
