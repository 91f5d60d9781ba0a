"""The leaderboard's filters, as the page's GET form and the API's query both give them."""
from django import forms

from providers.models import LLMModel
from ratings.outcomes import Filters

SOURCE_CHOICES = [("both", "Judges and people"), ("judges", "Judges' verdicts"), ("humans", "People's votes")]


class FilterForm(forms.Form):
    source = forms.ChoiceField(choices=SOURCE_CHOICES, required=False, initial="both", label="Outcomes from")
    judge = forms.ModelChoiceField(queryset=LLMModel.objects.none(), required=False, empty_label="Any judge",
                                   help_text="Count only this judge model's own verdicts.")
    tag = forms.SlugField(required=False, max_length=40, label="Topic tag")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **{"label_suffix": "", **kwargs})
        self.fields["judge"].queryset = LLMModel.objects.select_related("provider").order_by("display_name")

    def clean(self) -> dict:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "Choose an end date on or after the start date.")
        return data

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(source=data.get("source") or "both",
                       judge_model_id=data["judge"].pk if data.get("judge") else None,
                       tag=data.get("tag") or "", since=data.get("since"), until=data.get("until"))
