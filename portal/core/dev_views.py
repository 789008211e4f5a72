from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .outbox import outbox_message, outbox_messages


def outbox(request: HttpRequest) -> HttpResponse:
    return render(request, "core/outbox.html", {"messages_sent": outbox_messages()})


def outbox_detail(request: HttpRequest, message_id: str) -> HttpResponse:
    message = outbox_message(message_id)
    if message is None:
        raise Http404("No such message.")
    return render(request, "core/outbox_detail.html", {"message": message})
