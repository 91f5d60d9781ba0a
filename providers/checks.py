"""Configuration problems surface at start-up, not in the middle of a debate."""
from django.core.checks import Warning, register
from django.db import DatabaseError


@register()
def check_model_keys(app_configs, **kwargs) -> list[Warning]:
    from providers.models import LLMModel

    if not kwargs.get("databases"):  # only when asked to look at the database (migrate, check --database)
        return []
    try:
        models = list(LLMModel.objects.usable())
    except DatabaseError:  # not migrated yet: nothing to check
        return []
    warnings = []
    for model in models:
        name = model.effective_key_env_var
        if not model.has_key_available:
            warnings.append(Warning(
                f"{model.litellm_model_name} reads its API key from {name}, which is not set; "
                "calls to it will fail until it is.",
                hint=f"export {name}=... before starting the server, or disable the model in admin.",
                obj=model, id="providers.W001",
            ))
    return warnings
