import os

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import RawSQL
from django.utils import timezone

from debateproject.ids import parse_id
from providers.validators import (
    validate_api_base, validate_extra_params, validate_key_env_var, validate_litellm_provider,
)


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
        validators=[validate_litellm_provider],
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


# Routes on which a call can be bound to a JSON schema (response_format): OpenAI, Anthropic (LiteLLM maps it to
# structured output or a forced tool), Ollama (its `format`) and OpenAI-compatible servers such as llama.cpp's,
# which compiles the schema to a grammar although litellm.supports_response_schema() says False for them.
STRUCTURED_OUTPUT_ROUTES = frozenset({"openai", "anthropic", "ollama", "ollama_chat", "hosted_vllm"})


def _usable_fallbacks() -> models.Prefetch:
    """A model's fallbacks that can answer now, in their order, as `usable_fallback_links`."""
    links = ModelFallback.objects.filter(fallback__enabled=True, fallback__provider__enabled=True)
    return models.Prefetch("fallback_links", queryset=links.select_related("fallback__provider").order_by("position"),
                           to_attr="usable_fallback_links")


# The two columns below are written in SQL: as a Subquery and an Exists, the ORM took 0.5 ms to compile them at
# every turn's read of its model row, as long as the rest of that read (bench/bench_concurrent.py).
def _backend_column() -> RawSQL:
    """The rollback flag, read in another row's query. Until the flag's row exists it is the field's default, which
    is what GatewaySetting.load() would create; a read does not create it."""
    quote, flag = connection.ops.quote_name, GatewaySetting._meta
    return RawSQL(f"COALESCE((SELECT {quote(flag.get_field('backend').column)} FROM {quote(flag.db_table)} "
                  f"WHERE {quote(flag.pk.column)} = 1), %s)", (str(flag.get_field("backend").default),),
                  output_field=models.CharField())


def _has_fallbacks_column() -> RawSQL:
    """Whether the model row of the query has any fallback (usable or not)."""
    quote, link, model = connection.ops.quote_name, ModelFallback._meta, LLMModel._meta
    return RawSQL(f"EXISTS (SELECT 1 FROM {quote(link.db_table)} WHERE {quote(link.db_table)}."
                  f"{quote(link.get_field('model').column)} = {quote(model.db_table)}.{quote(model.pk.column)})",
                  (), output_field=models.BooleanField())


# The turn's read of its model row, by database vendor: the SQL, its parameters before the row's id, and each
# column's field with the converters that make the database's value the model's.
_TURN_READS: dict[str, tuple[str, list, list]] = {}


def _turn_read(db: BaseDatabaseWrapper, alias: str, pk: int) -> "LLMModel":
    """The model row, its provider, the rollback flag and whether it has fallbacks, in one statement. In SQL: the
    ORM took 0.7 ms to build and compile this query at every turn, twice what running it takes (0.35 ms on
    PostgreSQL; bench/bench_concurrent.py)."""
    if db.vendor not in _TURN_READS:
        quote, columns, fields = db.ops.quote_name, [], []
        for model in (LLMModel, Provider):
            for field in model._meta.concrete_fields:
                column = field.get_col(model._meta.db_table)
                columns.append(f"{quote(model._meta.db_table)}.{quote(field.column)}")
                fields.append((column, db.ops.get_db_converters(column) + field.get_db_converters(db)))
        backend, has_fallbacks, row, provider = (_backend_column(), _has_fallbacks_column(), LLMModel._meta,
                                                  Provider._meta)
        sql = (f"SELECT {', '.join(columns)}, {backend.sql}, {has_fallbacks.sql} FROM {quote(row.db_table)} "
               f"INNER JOIN {quote(provider.db_table)} ON {quote(row.db_table)}."
               f"{quote(row.get_field('provider').column)} = {quote(provider.db_table)}.{quote(provider.pk.column)} "
               f"WHERE {quote(row.db_table)}.{quote(row.pk.column)} = %s")
        _TURN_READS[db.vendor] = sql, [*backend.params, *has_fallbacks.params], fields
    sql, params, fields = _TURN_READS[db.vendor]
    with db.cursor() as cursor:
        cursor.execute(sql, [*params, pk])
        found = cursor.fetchone()
    if found is None:
        raise LLMModel.DoesNotExist(f"LLM model {pk} does not exist")
    values = []
    for value, (column, converters) in zip(found, fields):
        for convert in converters:
            value = convert(value, column, db)
        values.append(value)
    split = len(LLMModel._meta.concrete_fields)
    model = LLMModel.from_db(alias, None, values[:split])
    model.provider = Provider.from_db(alias, None, values[split:len(fields)])
    model.backend_flag, model.has_fallbacks = found[-2], bool(found[-1])
    return model


class LLMModelQuerySet(models.QuerySet):
    def with_answer_chain(self) -> "LLMModelQuerySet":
        """Rows that a gateway call needs nothing more for: their usable fallbacks are fetched with them, and the
        rollback flag as it stands now is read in the row's own query (`fetched_backend`)."""
        return (self.select_related("provider").annotate(backend_flag=_backend_column())
                .prefetch_related(_usable_fallbacks()))

    def get_with_answer_chain(self, pk: int) -> "LLMModel":
        """with_answer_chain().get(pk=pk), read at every turn: the fallbacks' query runs only for a model that has
        any (most have none), and the row's own read is SQL built once (_turn_read)."""
        row = _turn_read(connections[self.db], self.db, pk)
        if row.has_fallbacks:
            models.prefetch_related_objects([row], _usable_fallbacks())
        else:
            row.usable_fallback_links = []
        return row

    def usable(self) -> "LLMModelQuerySet":
        """Enabled models of enabled providers: what a debate may seat."""
        return self.filter(enabled=True, provider__enabled=True).select_related("provider")

    def lookup(self, ref: str) -> "LLMModel":
        """A usable model by id, by "provider/model name" or by model name alone, for commands."""
        models = self.usable()
        if ref.isdigit():
            found = list(models.filter(pk=parse_id(ref) or 0))  # "²" or a number past any id: no such row
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
    structured_output = models.BooleanField(
        null=True, blank=True,
        help_text="Bind the judge's reply to the verdict's JSON schema (response_format). Unknown: decided by the "
        "route (yes for " + ", ".join(sorted(STRUCTURED_OUTPUT_ROUTES)) + "); choose No for a server that refuses it.")
    extra_params = models.JSONField(
        "extra LiteLLM parameters", default=dict, blank=True, validators=[validate_extra_params],
        help_text='Passed to every call, e.g. {"top_p": 0.9}. Not what the other fields set (API base, key, '
        'timeouts, retries), and no secrets.',
    )
    enabled = models.BooleanField(default=True)

    # How hard a call tries; empty means the defaults in settings (ARENA_LLM_RETRIES, ARENA_LLM_TIMEOUT, ...).
    max_retries = models.PositiveSmallIntegerField(
        "retries", null=True, blank=True,
        help_text="Extra attempts after a failure that retrying can fix (429, 5xx, timeouts, a cut stream); "
        "empty: the default (ARENA_LLM_RETRIES).")
    timeout_seconds = models.FloatField(
        "call timeout (s)", null=True, blank=True, validators=[MinValueValidator(0.1)],
        help_text="The whole call; empty: ARENA_LLM_TIMEOUT.")
    first_chunk_timeout_seconds = models.FloatField(
        "chunk timeout (s)", null=True, blank=True, validators=[MinValueValidator(0.1)],
        help_text="The wait for a stream's first chunk and between chunks; empty: ARENA_LLM_FIRST_CHUNK_TIMEOUT.")
    fallbacks = models.ManyToManyField(
        "self", through="ModelFallback", through_fields=("model", "fallback"), symmetrical=False, blank=True,
        related_name="fallback_for")

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

    @property
    def costs_nothing(self) -> bool:
        """Free-tier rows and Ollama models (local servers) cost exactly 0: never looked up in a price list."""
        return self.pricing_tier == PricingTier.FREE or self.provider.litellm_provider in ("ollama", "ollama_chat")

    @property
    def uses_structured_output(self) -> bool:
        if self.structured_output is not None:
            return self.structured_output
        return self.provider.litellm_provider in STRUCTURED_OUTPUT_ROUTES

    @property
    def retries(self) -> int:
        return settings.LLM_RETRIES if self.max_retries is None else self.max_retries

    @property
    def call_timeout(self) -> float:
        return self.timeout_seconds or settings.LLM_TIMEOUT_SECONDS

    @property
    def chunk_timeout(self) -> float:
        return self.first_chunk_timeout_seconds or settings.LLM_FIRST_CHUNK_TIMEOUT_SECONDS

    @property
    def has_answer_chain(self) -> bool:
        """True when answer_chain() needs no query: the row came from LLMModel.objects.with_answer_chain()."""
        return hasattr(self, "usable_fallback_links")

    @property
    def fetched_backend(self) -> str | None:
        """The rollback flag as it stood when the row was read with_answer_chain(); None for any other row."""
        return getattr(self, "backend_flag", None)

    def answer_chain(self) -> list["LLMModel"]:
        """This model, then its usable fallbacks in their order: who is asked, one after the other."""
        if self.has_answer_chain:
            links = self.usable_fallback_links
        else:
            links = self.fallback_links.filter(fallback__enabled=True, fallback__provider__enabled=True)
            links = links.select_related("fallback__provider").order_by("position")
        return [self, *(link.fallback for link in links)]

    def record_check(self, *, ok: bool, latency_ms: int | None, error: str = "") -> None:
        self.last_checked_at = timezone.now()
        self.last_check_ok = ok
        self.last_check_latency_ms = latency_ms
        self.last_check_error = error
        self.save(update_fields=["last_checked_at", "last_check_ok", "last_check_latency_ms", "last_check_error"])


class ModelFallback(models.Model):
    """One entry of a model's ordered fallback list: asked when the model still fails after its retries."""

    model = models.ForeignKey(LLMModel, on_delete=models.CASCADE, related_name="fallback_links")
    fallback = models.ForeignKey(LLMModel, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["model", "fallback"], name="unique_fallback_per_model"),
            models.CheckConstraint(condition=~models.Q(model=models.F("fallback")), name="fallback_is_another_model"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.fallback}"

    def clean(self) -> None:
        if self.model_id and self.model_id == self.fallback_id:
            raise ValidationError({"fallback": "A model cannot be its own fallback."})


class Backend(models.TextChoices):
    LITELLM = "litellm", "LiteLLM"
    LEGACY = "legacy", "Legacy SDK clients"


class GatewaySetting(models.Model):
    """The single row of gateway-wide settings: which backend makes LLM calls (the rollback flag), and whether an
    api_base may point at a private network."""

    backend = models.CharField(max_length=10, choices=Backend.choices, default=Backend.LITELLM)
    # Off by default: a call made from a row reaches whatever its api_base names, from inside our network. On for a
    # LAN server (Ollama on another machine), it lifts the refusal of private and link-local addresses; loopback is
    # always allowed and cloud metadata endpoints never are (providers/validators.py).
    allow_private_networks = models.BooleanField(
        default=False,
        help_text="Let an API base point at private and link-local addresses (10/8, 172.16/12, 192.168/16, "
        "fc00::/7, 169.254/16, fe80::/10), e.g. Ollama on another machine of the LAN. Loopback (127.0.0.1, "
        "localhost) is always allowed; cloud metadata endpoints never are. ARENA_ALLOW_PRIVATE_NETWORKS, when "
        "set, wins over this.")
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "gateway setting"

    def __str__(self) -> str:
        return f"LLM backend: {self.get_backend_display()}"

    @classmethod
    def load(cls) -> "GatewaySetting":
        row, _ = cls.objects.get_or_create(pk=1)
        return row

    @property
    def private_networks_allowed(self) -> bool:
        pin = settings.ALLOW_PRIVATE_NETWORKS_PIN
        return self.allow_private_networks if pin is None else pin
