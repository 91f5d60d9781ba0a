from django.contrib import admin, messages

from accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    list_select_related = ["user"]
    search_fields = ["prefix", "name", "user__username"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return ["user", "name"] if obj is None else ["user", "name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        # A token belongs to one user for its whole life: issue a new one rather than moving it.
        return [] if obj is None else ["user", *self.readonly_fields]

    def save_model(self, request, obj: ApiToken, form, change: bool) -> None:
        raw = None if change else obj.assign_secret()
        super().save_model(request, obj, form, change)
        if raw:
            # The only time anyone sees the token: only its hash is stored.
            self.message_user(request, f"New API token for {obj.user}: {raw} — copy it now, it will not be "
                                       "shown again.", messages.WARNING)

    @admin.action(description="Revoke")
    def revoke(self, request, queryset) -> None:
        count = queryset.revoke()
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
