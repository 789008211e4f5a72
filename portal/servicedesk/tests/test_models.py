from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from portal.servicedesk.models import FieldDefinition, FieldKind, RequestType, attachment_path
from portal.servicedesk.templatetags.servicedesk import sla_duration
from portal.servicedesk.workflow import (
    STATUS_COLOURS,
    TRANSITIONS,
    ActorKind,
    Status,
    allowed_targets,
)


def test_every_status_has_a_badge_colour_and_a_label() -> None:
    assert set(STATUS_COLOURS) == set(Status)
    assert all(str(s.label) for s in Status)


def test_finished_requests_cannot_move_at_all() -> None:
    for actor in ActorKind:
        assert allowed_targets(actor, Status.CLOSED) == frozenset()
        assert allowed_targets(actor, Status.CANCELLED) == frozenset()


def test_no_transition_goes_nowhere_or_to_itself() -> None:
    for table in TRANSITIONS.values():
        for source, targets in table.items():
            assert source not in targets


def test_request_type_fee_needs_a_currency() -> None:
    rt = RequestType(name="Move", slug="move", category="Facilities", fee_amount=4900)
    with pytest.raises(ValidationError, match="three capitals"):
        rt.clean()
    rt.fee_currency = "EUR"
    rt.clean()
    assert rt.fee_display == "49.00 EUR"


def test_resolution_target_cannot_come_before_first_response() -> None:
    rt = RequestType(
        name="X", slug="x", category="Y", sla_first_response_hours=48, sla_resolution_hours=8
    )
    with pytest.raises(ValidationError, match="before the first response"):
        rt.clean()


@pytest.mark.parametrize("name", ["Title", "title", "1st", "with space", "x" * 41])
def test_field_keys_are_validated(name: str) -> None:
    field = FieldDefinition(name=name, label="L", kind=FieldKind.TEXT)
    with pytest.raises(ValidationError):
        field.clean()


def test_a_choice_needs_options() -> None:
    field = FieldDefinition(name="size", label="Size", kind=FieldKind.CHOICE, choices="S")
    with pytest.raises(ValidationError, match="at least two"):
        field.clean()
    field.choices = "S\nM\n\nL"
    field.clean()
    assert field.choice_list == ["S", "M", "L"]
    with pytest.raises(ValidationError, match="Only a choice"):
        FieldDefinition(name="n", label="N", kind=FieldKind.TEXT, choices="a\nb").clean()


def test_attachments_are_stored_under_random_names() -> None:
    first = attachment_path(None, "../../etc/passwd.PDF")  # type: ignore[arg-type]
    second = attachment_path(None, "report.pdf")  # type: ignore[arg-type]
    assert first.startswith("servicedesk/") and first.endswith(".pdf")
    assert ".." not in first and "passwd" not in first
    assert first != second
    assert not attachment_path(None, "evil.<script>").endswith(">")  # type: ignore[arg-type]


def test_sla_durations_read_naturally() -> None:
    assert sla_duration(1) == "1 hour"
    assert sla_duration(8) == "8 hours"
    assert sla_duration(72) == "3 days"
    assert sla_duration(24) == "1 day"
    assert sla_duration(36) == "36 hours"
