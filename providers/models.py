import os
from django.db import models
from django.utils import timezone

from providers.validators import validate_api_base, validate_key_env_var


class PricingTier(models.TextChoices):
    FREE = "free", "Free"
    ECONOMY = "economy", "Economy"
    STANDARD = "standard", "Standard"
    PREMIUM = "premium", "Premium"


class ProviderQuerySet(models.QuerySet):
    def enabled(self) -> "ProviderQuerySet":
        return self.filter(enabled=True)


class Provider(models.Model):
    """A service that answers LLM calls; LiteLLM reaches it by its provider string."""

    display_name = models.CharField(max_length=100, unique=True)
    litellm_provider = models.CharField(
        "LiteLLM provider",
        max_length=50,
        help_text="LiteLLM's provider prefix: anthropic, openai, ollama, ollama_chat, hosted_vllm, …",
    )
    api_base = models.CharField(
        "API base URL", max_length=300, blank=True, validators=[validate_api_base],
        help_text="Leave empty for the provider's public endpoint.",
    )
    api_key_env_var = models.CharField(
        "key variable", max_length=100, blank=True, validators=[validate_key_env_var],
        help_text="Name of the environment variable that holds the API key (never the key). "
        "Empty for servers that need none, such as Ollama.",
    )
    enabled = models.BooleanField(default=True)

    objects = ProviderQuerySet.as_manager()

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class LLMModelQuerySet(models.QuerySet):
    def usable(self) -> "LLMModelQuerySet":
        """Enabled models of enabled providers: what a debate may seat."""
        return self.filter(enabled=True, provider__enabled=True).select_related("provider")

    def lookup(self, ref: str) -> "LLMModel":
        """A usable model by id, by "provider/model name" or by model name alone, for commands."""
        models = self.usable()
        if ref.isdigit():
            found = list(models.filter(pk=int(ref)))
        else:
            found = [m for m in models.filter(model_name=ref.split("/", 1)[-1]) if ref in (m.model_name, m.litellm_model_name)]
        if len(found) != 1:
            known = ", ".join(sorted(m.litellm_model_name for m in models))
            problem = "matches several models" if found else "matches no enabled model"
            raise LLMModel.DoesNotExist(f"{ref!r} {problem}; enabled models: {known}")
        return found[0]


class LLMModel(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="models")
    model_name = models.CharField(max_length=200, help_text="As the provider names it, e.g. gpt-4o or mistral.")
    display_name = models.CharField(max_length=200)
    api_base = models.CharField(
        "API base override", max_length=300, blank=True, validators=[validate_api_base]
    )
    api_key_env_var = models.CharField(
        "key variable override", max_length=100, blank=True, validators=[validate_key_env_var]
    )
    pricing_tier = models.CharField(max_length=10, choices=PricingTier.choices, default=PricingTier.STANDARD)
    recommended = models.BooleanField(default=False)
    context_window = models.PositiveIntegerField(
        default=8192, help_text="Tokens the model accepts; sent to Ollama as num_ctx and used to trim prompts."
    )
    extra_params = models.JSONField(
        "extra LiteLLM parameters", default=dict, blank=True,
        help_text='Passed to every call, e.g. {"top_p": 0.9}.',
    )
    enabled = models.BooleanField(default=True)

    # What the system measured the last time an admin tested the connection.
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_check_ok = models.BooleanField(null=True, editable=False)
    last_check_latency_ms = models.PositiveIntegerField(null=True, blank=True, editable=False)
    last_check_error = models.TextField(blank=True, editable=False)

    objects = LLMModelQuerySet.as_manager()

    class Meta:
        ordering = ["provider__display_name", "display_name"]
        verbose_name = "LLM model"
        constraints = [
            models.UniqueConstraint(fields=["provider", "model_name"], name="unique_model_per_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.litellm_model_name})"

    @property
    def litellm_model_name(self) -> str:
        return f"{self.provider.litellm_provider}/{self.model_name}"

    @property
    def effective_api_base(self) -> str:
        return self.api_base or self.provider.api_base

    @property
    def effective_key_env_var(self) -> str:
        return self.api_key_env_var or self.provider.api_key_env_var

    def read_api_key(self) -> str | None:
        """The key, read from its variable at call time; None when the model needs none."""
        name = self.effective_key_env_var
        if not name:
            return None
        return os.environ.get(name) or None

    @property
    def has_key_available(self) -> bool:
        """False when the row names a key variable that this process's environment does not set."""
        return not self.effective_key_env_var or self.read_api_key() is not None

    def record_check(self, *, ok: bool, latency_ms: int | None, error: str = "") -> None:
        self.last_checked_at = timezone.now()
        self.last_check_ok = ok
        self.last_check_latency_ms = latency_ms
        self.last_check_error = error
        self.save(update_fields=["last_checked_at", "last_check_ok", "last_check_latency_ms", "last_check_error"])


class Backend(models.TextChoices):
    LITELLM = "litellm", "LiteLLM"
    LEGACY = "legacy", "Legacy SDK clients"


class GatewaySetting(models.Model):
    """The single row that says which backend makes LLM calls (the rollback flag)."""

    backend = models.CharField(max_length=10, choices=Backend.choices, default=Backend.LITELLM)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "gateway setting"

    def __str__(self) -> str:
        return f"LLM backend: {self.get_backend_display()}"

    @classmethod
    def load(cls) -> "GatewaySetting":
        row, _ = cls.objects.get_or_create(pk=1)
        return row
