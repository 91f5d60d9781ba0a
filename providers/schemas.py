"""Schemas of the catalog router, and the one error shape every router of the API declares."""
from typing import Annotated

from django.db.models import Q
from ninja import Field, FilterLookup, FilterSchema, Schema

from providers.models import LLMModel, PricingTier

# Row ids as the databases store them (64-bit): a larger number would overflow the query, not miss a row.
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]


# ---- errors --------------------------------------------------------------------------------------
# The error shape lives here, at the bottom of the dependency graph (debates imports providers, never the
# reverse), so that every router can declare it without importing the project's API module.
class ErrorOut(Schema):
    detail: str = Field(description="What went wrong, for people.")
    code: str = Field(description="What went wrong, for programs: not_authenticated, not_found, invalid_state, "
                                  "validation_error, ...")
    errors: dict[str, list[str]] | None = Field(
        None, description="Only for validation errors: each offending field (dotted, e.g. seats.0.model_id) "
                          "and what is wrong with it.")


def error_responses(*statuses: int) -> dict[int, type[ErrorOut]]:
    """The error statuses an endpoint may answer, for its `response=`: 401, 403, 422 and 500 always."""
    return {status: ErrorOut for status in sorted({401, 403, 422, 500, *statuses})}


# ---- catalog -------------------------------------------------------------------------------------
class ProviderOut(Schema):
    id: int
    display_name: str
    litellm_provider: str
    api_base: str
    enabled: bool
    model_count: int


class ModelOut(Schema):
    id: int
    provider_id: int
    provider: str = Field(alias="provider.display_name")
    model_name: str
    display_name: str
    litellm_model_name: str
    pricing_tier: PricingTier
    recommended: bool
    context_window: int
    enabled: bool
    usable: bool = Field(description="Enabled, and its provider too: a debate may seat it.")

    @staticmethod
    def resolve_usable(obj: LLMModel) -> bool:
        return obj.enabled and obj.provider.enabled


class ModelFilters(FilterSchema):
    provider: Annotated[RowId | None, FilterLookup("provider_id")] = None
    pricing_tier: PricingTier | None = None
    recommended: bool | None = None
    enabled: bool | None = Field(None, description="true: models a debate may seat (the model and its provider "
                                                   "enabled); false: the others.")

    def filter_enabled(self, value: bool | None) -> Q:
        if value is None:
            return Q()
        usable = Q(enabled=True, provider__enabled=True)
        return usable if value else ~usable
