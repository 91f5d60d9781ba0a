"""The new-debate page: a debate form and a formset of seats, read into what `debate_create` takes.

The forms parse and check what a browser can get wrong; `debate_create` stays the one authority on what a
debate may be, and the errors it raises are put back next to the fields they name.
"""
from django import forms
from django.forms import BaseFormSet, formset_factory

from debates.formats import DEFAULT_FORMAT, FORMATS
from debates.models import MAX_PANEL, MAX_ROUNDS, MAX_SEATS, MIN_ROUNDS, MIN_SEATS, Persona
from debates.services import MAX_BUDGET_USD, SeatSpec
from providers.models import LLMModel

SEATS_PREFIX = "seats"
DEFAULT_STANCES = ["for", "against"]


def model_label(obj: LLMModel) -> str:
    label = f"{obj.display_name} · {obj.provider.display_name}"
    # Say so before the debate fails on it: its key variable is not set in this server's environment.
    return label if obj.has_key_available else f"{label} (needs {obj.effective_key_env_var})"


class ModelChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: LLMModel) -> str:
        return model_label(obj)


class ModelsChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: LLMModel) -> str:
        return model_label(obj)


def usable_models():
    return LLMModel.objects.usable().order_by("-recommended", "provider__display_name", "display_name")


def first_ready_model(models) -> LLMModel | None:
    """The default choice: the first model that can answer now, else simply the first."""
    models = list(models)
    return next((m for m in models if m.has_key_available), models[0] if models else None)


def budget_field() -> forms.FloatField:
    return forms.FloatField(
        label="Budget (USD)", required=False, min_value=0.0, max_value=MAX_BUDGET_USD,
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": "none"}),
        help_text="Optional. The debate stops, resumable, before a turn that could pass it.",
        error_messages={"invalid": "Enter the budget in USD as a number, or leave it empty for none."},
    )


class ReplayForm(forms.Form):
    """"Replay with a change": which seat (or the judge) gets which model."""

    target = forms.ChoiceField(label="Change", error_messages={"required": "Choose what to change."})
    model = ModelChoice(queryset=LLMModel.objects.none(), label="to",
                        error_messages={"required": "Choose a model.", "invalid_choice": "Choose an enabled model."})

    def __init__(self, *args, seats=(), **kwargs) -> None:
        super().__init__(*args, **{"label_suffix": "", **kwargs})
        self.fields["target"].choices = [("judge", "the judge"), *((str(s.pk), f"{s.display_name}'s model")
                                                                   for s in seats)]
        self.fields["model"].queryset = usable_models()

    def seat_id(self) -> int | None:
        target = self.cleaned_data["target"]
        return None if target == "judge" else int(target)


class BudgetForm(forms.Form):
    """The budget a debate resumes with (the Resume button's field); empty means none."""

    budget_usd = budget_field()


class DebateForm(forms.Form):
    topic = forms.CharField(
        label="Motion", max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "This house believes that…"}),
        error_messages={"required": "Enter the motion to debate."},
    )
    format = forms.ChoiceField(
        choices=[(key, f"{chosen.name}: {chosen.description}") for key, chosen in FORMATS.items()],
        initial=DEFAULT_FORMAT, label="Format", required=False)  # a form without it: free rounds
    rounds = forms.IntegerField(
        min_value=MIN_ROUNDS, max_value=MAX_ROUNDS, initial=3,
        error_messages={"required": f"Choose between {MIN_ROUNDS} and {MAX_ROUNDS} rounds."},
    )
    judge_model = ModelChoice(
        queryset=LLMModel.objects.none(), label="Judge",
        error_messages={"required": "Choose a model for the judge.",
                        "invalid_choice": "Choose an enabled model for the judge."},
    )
    panel = ModelsChoice(
        queryset=LLMModel.objects.none(), label="More judges (a panel)", required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=f"Optional: up to {MAX_PANEL - 1} more models judge alone beside the judge; the verdict takes "
                  "the mean scores and the majority winner.",
        error_messages={"invalid_choice": "Choose enabled models for the panel."},
    )
    budget_usd = budget_field()
    tags = forms.CharField(
        label="Topic tags", required=False, max_length=400,
        widget=forms.TextInput(attrs={"placeholder": "e.g. transport, cities"}),
        help_text="Optional, separated by commas; the leaderboard can be narrowed to one.")
    early_stop = forms.BooleanField(
        label="Stop early on consensus", required=False, initial=False,
        help_text="After each round from the second, the judge's model says whether the seats now agree; if they "
                  "do, the debate is judged there.")
    blind_seats = forms.BooleanField(
        label="Debaters see each other as Speaker A, B, …", required=False, initial=True,
        help_text="The judge always does; names stay on this page.")
    swap_check = forms.BooleanField(
        label="Seat-swap check", required=False, initial=True,
        help_text="The judge reads the debate twice, the second time with the seats' order reversed; a seat wins "
                  "only when both readings agree.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **{"label_suffix": "", **kwargs})
        self.fields["judge_model"].queryset = self.fields["panel"].queryset = usable_models()
        if not self.is_bound:
            self.fields["judge_model"].initial = first_ready_model(self.fields["judge_model"].queryset)


class SeatForm(forms.Form):
    model = ModelChoice(
        queryset=LLMModel.objects.none(),
        error_messages={"required": "Choose a model.", "invalid_choice": "Choose an enabled model."},
    )
    stance = forms.CharField(
        max_length=100, widget=forms.TextInput(attrs={"list": "stance-suggestions", "placeholder": "e.g. for"}),
        error_messages={"required": "Enter the seat's stance, for example 'for' or 'against'."},
    )
    persona = forms.ModelChoiceField(
        queryset=Persona.objects.none(), to_field_name="slug", required=False, empty_label="No persona",
    )
    display_name = forms.CharField(
        label="Name", max_length=100, required=False,
        widget=forms.TextInput(attrs={"placeholder": "optional"}),
    )
    temperature = forms.FloatField(
        min_value=0.0, max_value=2.0, initial=0.7, widget=forms.NumberInput(attrs={"step": "0.1"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **{"label_suffix": "", **kwargs})
        self.fields["model"].queryset = usable_models()
        self.fields["persona"].queryset = Persona.objects.filter(enabled=True)
        if not self.is_bound:
            self.fields["model"].initial = first_ready_model(self.fields["model"].queryset)

    def spec(self) -> SeatSpec:
        data = self.cleaned_data
        return SeatSpec(model_id=data["model"].pk, stance=data["stance"],
                        persona=data["persona"].slug if data["persona"] else None,
                        display_name=data["display_name"], temperature=data["temperature"])


class BaseSeatFormSet(BaseFormSet):
    default_error_messages = {
        "too_few_forms": f"A debate needs {MIN_SEATS} to {MAX_SEATS} seats.",
        "too_many_forms": f"A debate needs {MIN_SEATS} to {MAX_SEATS} seats.",
    }

    def get_form_kwargs(self, index: int | None) -> dict:
        # Every seat on the page is a seat: one added and left blank gets errors, it is not dropped in silence.
        return {} if index is None else {"empty_permitted": False}

    def specs(self) -> list[SeatSpec]:
        return [form.spec() for form in self.forms]

    def add_error(self, message: str) -> None:
        self.non_form_errors().append(message)


SeatFormSet = formset_factory(
    SeatForm, formset=BaseSeatFormSet, extra=0, min_num=MIN_SEATS, max_num=MAX_SEATS,
    absolute_max=MAX_SEATS, validate_min=True, validate_max=True,
)

# `debate_create` names seat fields after SeatSpec; the page names them after what a person picks.
SEAT_FIELDS = {"model_id": "model", "stance": "stance", "persona": "persona", "display_name": "display_name",
               "temperature": "temperature"}
DEBATE_FIELDS = {"topic": "topic", "rounds": "rounds", "judge_model_id": "judge_model", "budget_usd": "budget_usd",
                 "blind_seats": "blind_seats", "swap_check": "swap_check", "panel_model_ids": "panel", "tags": "tags",
                 "format": "format", "early_stop": "early_stop"}


def blank_forms() -> tuple[DebateForm, BaseSeatFormSet]:
    seats = SeatFormSet(prefix=SEATS_PREFIX, initial=[{"stance": stance} for stance in DEFAULT_STANCES])
    return DebateForm(), seats


def bound_forms(data) -> tuple[DebateForm, BaseSeatFormSet]:
    return DebateForm(data), SeatFormSet(data, prefix=SEATS_PREFIX)


def add_service_errors(errors: dict[str, list[str]], form: DebateForm, seats: BaseSeatFormSet) -> None:
    """Put `debate_create`'s errors ("topic", "seats", "seats.1.model_id", ...) next to their fields."""
    for key, messages in errors.items():
        for message in messages:
            _add_one(key, message, form, seats)


def _add_one(key: str, message: str, form: DebateForm, seats: BaseSeatFormSet) -> None:
    if key in DEBATE_FIELDS:
        form.add_error(DEBATE_FIELDS[key], message)
        return
    parts = key.split(".")
    if parts[0] == "seats" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(seats.forms):
        seats.forms[int(parts[1])].add_error(SEAT_FIELDS.get(parts[2]), message)  # None: the seat as a whole
    elif key == "seats":
        seats.add_error(message)
    else:
        form.add_error(None, message)
