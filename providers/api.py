"""The catalog: providers and the models a debate may seat. Read-only; admins edit it in Django admin."""
from django.db.models import Count
from ninja import Query, Router

from providers.models import LLMModel, Provider
from providers.schemas import ModelFilters, ModelOut, ProviderOut, error_responses

router = Router(tags=["catalog"])


@router.get("/providers", response={200: list[ProviderOut], **error_responses()})
def list_providers(request):
    return Provider.objects.annotate(model_count=Count("models"))


@router.get("/models", response={200: list[ModelOut], **error_responses()})
def list_models(request, filters: Query[ModelFilters]):
    return filters.filter(LLMModel.objects.select_related("provider"))
