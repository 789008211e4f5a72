"""The request form built from a type's fields, and the small forms around a request."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import User

from .models import FieldDefinition, FieldKind, RequestType
from .workflow import Status


def validate_upload_size(upload: UploadedFile) -> None:
    limit_mb = settings.PORTAL_REQUEST_ATTACHMENT_MAX_MB
    if (upload.size or 0) > limit_mb * 1024 * 1024:
        raise forms.ValidationError(
            _("%(name)s is %(size).1f MB; a file may be at most %(max)s MB.")
            % {
                "name": upload.name,
                "size": (upload.size or 0) / 1024 / 1024,
                "max": limit_mb,
            },
            code="too_large",
        )


def _required_message(label: str, kind: str) -> str:
    if kind == FieldKind.FILE:
        return str(_("Choose a file for “%(label)s”.") % {"label": label})
    if kind in (FieldKind.CHOICE, FieldKind.YES_NO):
        return str(_("Choose an answer for “%(label)s”.") % {"label": label})
    return str(_("Fill in “%(label)s”.") % {"label": label})


def _form_field(definition: FieldDefinition) -> forms.Field:
    label = definition.label
    common: dict[str, Any] = {
        "label": label,
        "required": definition.required,
        "help_text": definition.help_text,
        "error_messages": {"required": _required_message(label, definition.kind)},
    }
    kind = definition.kind
    if kind == FieldKind.TEXT:
        return forms.CharField(max_length=500, **common)
    if kind == FieldKind.LONG_TEXT:
        return forms.CharField(
            max_length=10_000, widget=forms.Textarea(attrs={"rows": 5}), **common
        )
    if kind == FieldKind.NUMBER:
        common["error_messages"]["invalid"] = _(
            "Enter a number for “%(label)s”, for example 12 or 3.5."
        ) % {"label": label}
        return forms.DecimalField(max_digits=18, decimal_places=4, **common)
    if kind == FieldKind.DATE:
        common["error_messages"]["invalid"] = _(
            "Enter a date for “%(label)s” as year-month-day, for example 2026-03-31."
        ) % {"label": label}
        return forms.DateField(
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            input_formats=["%Y-%m-%d"],
            **common,
        )
    if kind == FieldKind.CHOICE:
        options = [(option, option) for option in definition.choice_list]
        common["error_messages"]["invalid_choice"] = _(
            "Choose one of the options offered for “%(label)s”."
        ) % {"label": label}
        return forms.ChoiceField(choices=[("", _("Choose…")), *options], **common)
    if kind == FieldKind.YES_NO:
        return forms.TypedChoiceField(
            choices=[("yes", _("Yes")), ("no", _("No"))],
            coerce=lambda value: value == "yes",
            empty_value=None,
            widget=forms.RadioSelect,
            **common,
        )
    if kind == FieldKind.FILE:
        max_mb = settings.PORTAL_REQUEST_ATTACHMENT_MAX_MB
        hint = _("At most %(max)s MB.") % {"max": max_mb}
        common["help_text"] = f"{definition.help_text} {hint}".strip()
        return forms.FileField(validators=[validate_upload_size], **common)
    raise ValueError(f"unknown field kind {kind!r}")


class ServiceRequestForm(forms.Form):
    """A summary plus the questions of one request type, validated on the server field by field."""

    title = forms.CharField(
        label=_("Summary"),
        max_length=200,
        help_text=_("A short line that describes what you need."),
        error_messages={"required": _("Give your request a short summary.")},
    )

    def __init__(self, *args: Any, request_type: RequestType, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_type = request_type
        # Help articles matching the summary are suggested as it is typed
        # (portal/content's help-suggest.js; an answer may save a request).
        self.fields["title"].widget.attrs.update(
            {
                "data-help-suggest": reverse("content:suggest"),
                "data-help-suggest-target": "title-help",
            }
        )
        self.definitions = list(request_type.fields.all())
        for definition in self.definitions:
            self.fields[definition.name] = _form_field(definition)

    @property
    def file_field_names(self) -> list[str]:
        return [d.name for d in self.definitions if d.kind == FieldKind.FILE]

    def draft_data(self) -> dict[str, str]:
        """What was typed, as plain strings, for a draft (files cannot be kept)."""
        if not self.is_bound:
            return {}
        files = set(self.file_field_names)
        return {
            name: str(self.data.get(name, ""))[:10_000]
            for name in self.fields
            if name not in files and self.data.get(name) not in (None, "")
        }


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Your message"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Write a message first.")},
    )
    attachment = forms.FileField(
        label=_("Attach a file"), required=False, validators=[validate_upload_size]
    )


class TransitionForm(forms.Form):
    to_status = forms.ChoiceField(choices=Status.choices)
    note = forms.CharField(required=False, max_length=2000)


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How satisfied are you with how this request was handled?"),
        choices=[(str(n), str(n)) for n in range(5, 0, -1)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose from 1 to 5 stars.")},
    )
    comment = forms.CharField(
        label=_("Anything you want to tell us? (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ListFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status")), ("open", _("Open")), *Status.choices],
    )
    type = forms.ChoiceField(label=_("Type"), required=False)
    submitted_from = forms.DateField(
        label=_("Submitted from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    submitted_to = forms.DateField(
        label=_("Submitted until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, type_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [("", _("Any type")), *type_choices]  # type: ignore[attr-defined]


# --- back office --------------------------------------------------------------------------


class StaffStatusForm(forms.Form):
    to_status = forms.ChoiceField(label=_("New status"))
    note = forms.CharField(
        label=_("Note for the timeline (the customer sees it)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, targets: list[Status], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_status"].choices = [(s.value, s.label) for s in targets]  # type: ignore[attr-defined]


class StaffAssignForm(forms.Form):
    assignee: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("Assigned to"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Nobody"),
    )

    def __init__(self, *args: Any, staff: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff  # type: ignore[attr-defined]


class StaffReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Reply to the customer"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Write a message first.")},
    )
    attachment = forms.FileField(
        label=_("Attach a file"), required=False, validators=[validate_upload_size]
    )


class StaffNoteForm(forms.Form):
    note_body = forms.CharField(
        label=_("Internal note (staff only, never shown to the customer)"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Write a note first.")},
    )
