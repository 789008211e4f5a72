"""The staff processing page of one request (reached through the admin's change view)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from portal.accounts.request import signed_in_user

from . import selectors, services
from .downloads import attachment_response
from .forms import StaffAssignForm, StaffNoteForm, StaffReplyForm, StaffStatusForm
from .models import Attachment, ServiceRequest
from .workflow import ActorKind, Status, allowed_targets


def process(
    request: HttpRequest, *, model_admin: admin.ModelAdmin[Any], service_request: ServiceRequest
) -> HttpResponse:
    actor = signed_in_user(request)
    targets = sorted(
        allowed_targets(ActorKind.STAFF, service_request.status),
        key=lambda s: list(Status).index(s),
    )
    staff = selectors.staff_members()
    action = request.POST.get("action", "") if request.method == "POST" else ""
    data = request.POST if request.method == "POST" else None
    files = request.FILES if request.method == "POST" else None
    status_form = StaffStatusForm(data if action == "status" else None, targets=targets)
    assign_form = StaffAssignForm(
        data if action == "assign" else None,
        staff=staff,
        initial={"assignee": service_request.assigned_to_id},
    )
    reply_form = StaffReplyForm(
        data if action == "reply" else None, files if action == "reply" else None
    )
    note_form = StaffNoteForm(data if action == "note" else None)
    done = ""
    try:
        if action == "status" and status_form.is_valid():
            updated = services.service_request_transition(
                service_request=service_request,
                to_status=status_form.cleaned_data["to_status"],
                actor=actor,
                as_staff=True,
                note=status_form.cleaned_data["note"],
            )
            done = _("The request is now %(status)s.") % {"status": Status(updated.status).label}
        elif action == "assign" and assign_form.is_valid():
            assignee = assign_form.cleaned_data["assignee"]
            services.service_request_assign(
                service_request=service_request, assignee=assignee, actor=actor
            )
            done = (
                _("Assigned to %(name)s.") % {"name": assignee.display_name}
                if assignee
                else _("Nobody is assigned now.")
            )
        elif action == "reply" and reply_form.is_valid():
            upload = reply_form.cleaned_data.get("attachment")
            services.service_request_comment_add(
                service_request=service_request,
                author=actor,
                body=reply_form.cleaned_data["body"],
                as_staff=True,
                uploads=[upload] if upload else [],
            )
            done = _("Your reply has been sent to the customer.")
        elif action == "note" and note_form.is_valid():
            services.service_request_comment_add(
                service_request=service_request,
                author=actor,
                body=note_form.cleaned_data["note_body"],
                as_staff=True,
                internal=True,
            )
            done = _("The internal note has been added.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    if done:
        messages.success(request, done)
        return redirect(request.path)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": f"{service_request.reference} · {service_request.title}",
        "service_request": service_request,
        "timeline": selectors.timeline(service_request=service_request),
        "conversation": selectors.conversation_for_staff(service_request=service_request),
        "form_attachments": selectors.form_attachments(service_request=service_request),
        "status_form": status_form,
        "assign_form": assign_form,
        "reply_form": reply_form,
        "note_form": note_form,
        "has_targets": bool(targets),
    }
    return TemplateResponse(request, "admin/servicedesk/servicerequest/process.html", context)


def attachment(*, service_request: ServiceRequest, attachment_id: int) -> HttpResponseBase:
    found = Attachment.objects.filter(service_request=service_request, pk=attachment_id).first()
    if found is None:
        raise Http404("No such file.")
    if found.document_version_id is not None:
        # The documents back office serves it: scan status and audit apply.
        return redirect("admin:documents_version_download", found.document_version_id)
    return attachment_response(found)
