from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.text import Truncator

from providers import connection_test
from providers.llm.backend import backend_state
from providers.llm.pricing import listed_price
from providers.models import GatewaySetting, LLMModel, ModelFallback, PricingTier, Provider
from providers.ollama import OllamaDiscoveryError, discover_ollama_models


class BackendBannerMixin:
    """Every catalog page says which backend the next call will use."""

    def changelist_view(self, request, extra_context=None):
        state = backend_state()
        extra_context = {**(extra_context or {}), "llm_backend": state}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(Provider)
class ProviderAdmin(BackendBannerMixin, admin.ModelAdmin):
    list_display = ["display_name", "litellm_provider", "api_base", "api_key_env_var", "model_count", "enabled"]
    list_filter = ["enabled", "litellm_provider"]
    search_fields = ["display_name", "litellm_provider", "api_base"]
    list_editable = ["enabled"]
    actions = ["discover_models"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(model_total=Count("models"))

    @admin.display(description="models", ordering="model_total")
    def model_count(self, obj: Provider) -> int:
        return obj.model_total

    @admin.action(description="Discover models (Ollama)")
    def discover_models(self, request, queryset) -> None:
        for provider in queryset:
            try:
                result = discover_ollama_models(provider)
            except OllamaDiscoveryError as exc:
                self.message_user(request, f"{provider}: {exc}", messages.ERROR)
            else:
                self.message_user(request, str(result), messages.SUCCESS)


class FallbackInline(admin.TabularInline):
    """The models asked, in this order, when this one still fails after its retries."""

    model = ModelFallback
    fk_name = "model"
    extra = 1
    autocomplete_fields = ["fallback"]
    verbose_name = "fallback"
    verbose_name_plural = "fallbacks (asked in order when this model still fails after its retries)"


@admin.register(LLMModel)
class LLMModelAdmin(BackendBannerMixin, admin.ModelAdmin):
    list_display = ["display_name", "litellm_model_name", "provider", "pricing_tier", "recommended", "enabled",
                    "last_check_ok", "last_check_latency_ms", "last_check_problem", "last_checked_at"]
    list_filter = ["enabled", "pricing_tier", "recommended", "provider"]
    list_select_related = ["provider"]
    search_fields = ["display_name", "model_name", "provider__display_name"]
    readonly_fields = ["litellm_model_name", "last_checked_at", "last_check_ok", "last_check_latency_ms",
                       "last_check_error"]
    fieldsets = [
        (None, {"fields": ["provider", "model_name", "display_name", "litellm_model_name", "pricing_tier",
                           "recommended", "enabled"]}),
        ("Last connection test", {"fields": ["last_checked_at", "last_check_ok", "last_check_latency_ms",
                                             "last_check_error"]}),
        ("Retries and timeouts", {"fields": ["max_retries", "timeout_seconds", "first_chunk_timeout_seconds"]}),
        ("Advanced", {"classes": ["collapse"],
                      "fields": ["api_base", "api_key_env_var", "context_window", "structured_output",
                                 "extra_params"]}),
    ]
    inlines = [FallbackInline]
    actions = ["test_connection"]

    def save_model(self, request, obj: LLMModel, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # A free row is priced at exactly 0 and never looked up: right for a free tier or a local server, wrong for
        # a model the provider bills, whose debates would then show $0 and never meet their budget.
        if obj.pricing_tier == PricingTier.FREE and (price := listed_price(obj)) and any(price):
            per_million = " and ".join(f"${value * 1e6:,.2f}" for value in price)
            self.message_user(request, f"{obj} is marked Free, so its calls are counted at $0, but LiteLLM's price "
                                       f"list charges {per_million} per million input and output tokens for it. "
                                       "Choose a paid tier unless your provider really does not bill it.",
                              messages.WARNING)

    @admin.display(description="last check error")
    def last_check_problem(self, obj: LLMModel) -> str:
        return Truncator(obj.last_check_error).chars(80)

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset) -> None:
        for model in queryset.select_related("provider"):
            result = connection_test.test_connection(model)
            if result.ok:
                self.message_user(request, f"{model}: answered in {result.latency_ms} ms", messages.SUCCESS)
            else:
                self.message_user(request, f"{model}: {result.error}", messages.ERROR)


@admin.register(GatewaySetting)
class GatewaySettingAdmin(admin.ModelAdmin):
    list_display = ["__str__", "backend", "pinned_by_environment", "allow_private_networks",
                    "private_networks_pin", "changed_at"]
    readonly_fields = ["changed_at", "pinned_by_environment", "private_networks_pin"]
    fields = ["backend", "pinned_by_environment", "allow_private_networks", "private_networks_pin", "changed_at"]

    @admin.display(description="pinned by ARENA_LLM_BACKEND", boolean=True)
    def pinned_by_environment(self, obj: GatewaySetting) -> bool:
        return backend_state().pinned

    @admin.display(description="ARENA_ALLOW_PRIVATE_NETWORKS (wins when set)", boolean=True)
    def private_networks_pin(self, obj: GatewaySetting) -> bool | None:
        return settings.ALLOW_PRIVATE_NETWORKS_PIN  # None (unset) shows as unknown: the row decides

    def has_add_permission(self, request) -> bool:
        return not GatewaySetting.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
