"""The caseworkers' tracing forms: what the page asks, read into the tracing schema's payload."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from haven.tracing.models import StatusNote, TracingRequest

SEX_CHOICES = [("", _("unknown")), ("F", _("female")), ("M", _("male"))]
LANGUAGE_CHOICES = [("", _("not said")), ("hy", "Հայերեն"), ("ru", "Русский"), ("en", "English")]


class RequestForm(forms.Form):
    """A tracing request as a caseworker records it; the schema decides what is valid."""

    sought_name = forms.CharField(
        label=_("Name of the person sought"),
        max_length=310,
        help_text=_("As the searcher says it, in any script: given, patronymic, family"),
    )
    sought_birth_year = forms.IntegerField(label=_("Year of birth"), required=False)
    sought_age = forms.IntegerField(
        label=_("or approximate age"), required=False, min_value=0, max_value=130
    )
    sought_sex = forms.ChoiceField(label=_("Sex"), choices=SEX_CHOICES, required=False)
    sought_origin = forms.CharField(label=_("Home settlement"), max_length=100, required=False)
    sought_relatives = forms.CharField(
        label=_("Names of relatives"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line: relatives who may be with the person sought"),
    )
    last_seen_place = forms.CharField(label=_("Last seen where"), max_length=200, required=False)
    last_seen_on = forms.CharField(label=_("Last seen when"), max_length=40, required=False)
    distinguishing = forms.CharField(
        label=_("Distinguishing details"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    searcher_name = forms.CharField(label=_("Searcher's name"), max_length=310, required=False)
    searcher_contact = forms.CharField(
        label=_("How to reach the searcher"), max_length=200, required=False
    )
    searcher_language = forms.ChoiceField(
        label=_("Searcher's language"), choices=LANGUAGE_CHOICES, required=False
    )
    consent = forms.BooleanField(
        label=_(
            "The searcher agrees that this request is recorded and that Haven's caseworkers use "
            "it to look for the person"
        ),
        required=False,
    )
    site = forms.ChoiceField(label=_("Site handling the request"))

    def __init__(self, *args: Any, sites: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site = self.fields["site"]
        assert isinstance(site, forms.ChoiceField)  # noqa: S101 - declared above
        site.choices = sites

    def payload(self) -> dict[str, Any]:
        """The cleaned fields as the tracing schema takes them (None and "" left for it)."""
        data = dict(self.cleaned_data)
        data.pop("site")
        data["sought_relatives"] = [
            line.strip() for line in str(data.get("sought_relatives") or "").splitlines()
        ]
        return {key: value for key, value in data.items() if value not in (None,)}


class StatusNoteForm(forms.Form):
    status = forms.ChoiceField(label=_("What is believed"), choices=StatusNote.Status.choices)
    asserted_by = forms.CharField(
        label=_("Who says so"),
        max_length=310,
        help_text=_("A name, a relative, an organisation"),
    )
    asserted_on = forms.DateField(
        label=_("When they said it"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    text = forms.CharField(
        label=_("Note"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


CLOSE_CHOICES = [
    (TracingRequest.Status.REUNITED, _("reunited")),
    (TracingRequest.Status.DECLINED, _("the person found declined")),
    (TracingRequest.Status.DECEASED, _("the person is deceased")),
    (TracingRequest.Status.WITHDRAWN, _("withdrawn or not pursued")),
]
