"""The assistance pages' forms: what they ask, read into the payloads the actions take. The
programme schema (haven.assistance.schemas) decides what is valid; these forms only type the
fields and show its errors beside them."""

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from haven.assistance.models import Programme
from haven.registry.reference import specific_needs_codes

ENCODING_CHOICES = [("", "UTF-8"), ("cp1251", _("Windows-1251 (Cyrillic)"))]


def reconcile_max_bytes() -> int:
    """The largest reconciliation file accepted (HAVEN_RECONCILE_MAX_BYTES)."""
    return int(settings.HAVEN_RECONCILE_MAX_BYTES)


class ProgrammeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=32, help_text=_("Short, lower case: arrival-grant")
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Programme.Kind.choices)
    benefit = forms.CharField(
        label=_("Benefit"),
        max_length=32,
        required=False,
        help_text=_(
            "Programmes with the same benefit pay an identity once per period between them;"
            " empty: the code"
        ),
    )
    unit = forms.ChoiceField(
        label=_("Per"), choices=Programme.Unit.choices, initial=Programme.Unit.PERSON
    )
    amount = forms.IntegerField(
        label=_("Amount"), help_text=_("Currency units (cash) or items (in kind)")
    )
    currency = forms.CharField(label=_("Currency"), max_length=3, required=False, initial="AMD")
    item = forms.CharField(
        label=_("Item handed out"), max_length=100, required=False, help_text=_("In kind only")
    )
    frequency = forms.ChoiceField(
        label=_("How often"), choices=Programme.Frequency.choices, initial=Programme.Frequency.ONCE
    )
    periods = forms.IntegerField(
        label=_("Months"), initial=1, help_text=_("How many months a monthly programme pays")
    )
    starts_on = forms.DateField(
        label=_("Starts on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    arrived_from = forms.DateField(
        label=_("Arrived from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    arrived_until = forms.DateField(
        label=_("Arrived until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    age_min = forms.IntegerField(label=_("Youngest age"), required=False)
    age_max = forms.IntegerField(label=_("Oldest age"), required=False)
    needs_any = forms.MultipleChoiceField(
        label=_("Specific needs (any one qualifies)"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    document_required = forms.BooleanField(
        label=_("Only people with an identity document on record"), required=False
    )
    possible_duplicates = forms.ChoiceField(
        label=_("A possible duplicate awaiting review"),
        choices=Programme.PossibleDuplicates.choices,
        initial=Programme.PossibleDuplicates.HOLD,
    )
    min_days_between = forms.IntegerField(
        label=_("Days between two handings-out"), initial=0, help_text=_("In kind; 0: no limit")
    )
    max_per_day = forms.IntegerField(
        label=_("Most a day"), initial=0, help_text=_("In kind; 0: no daily limit")
    )
    exclusive_group = forms.CharField(
        label=_("Alternatives group"),
        max_length=32,
        required=False,
        help_text=_("In kind: items of one group are alternatives, one of them per interval"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        needs = self.fields["needs_any"]
        assert isinstance(needs, forms.MultipleChoiceField)  # noqa: S101 - declared above
        needs.choices = [
            (code.code, f"{code.code} — {code.label}") for code in specific_needs_codes().values()
        ]

    def payload(self) -> dict[str, Any]:
        """The cleaned fields as the programme schema takes them; empty ones left to its
        defaults."""
        return {
            key: value for key, value in self.cleaned_data.items() if value not in (None, "", [])
        }


class PeriodForm(forms.Form):
    period = forms.IntegerField(label=_("Period"), min_value=1, initial=1)


class ReconcileForm(forms.Form):
    file = forms.FileField(
        label=_("The bank's file"), help_text=_("CSV or XLSX, as the bank returned it")
    )
    encoding = forms.ChoiceField(
        label=_("Encoding of a CSV file"), choices=ENCODING_CHOICES, required=False, initial=""
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = reconcile_max_bytes()
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is %(size)d bytes; at most %(limit)d bytes are accepted."),
                params={"size": upload.size, "limit": limit},
            )
        return upload
