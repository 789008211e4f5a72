"""The REST API under ``/api/v1/``: one place where every app's router is mounted.

Each app owns its endpoints in its ``api.py`` (thin: parse, call a selector or
service, answer); this module puts them together under one authentication,
one error format and one OpenAPI document.
"""

from __future__ import annotations

from portal.apikit.auth import session_auth, token_auth
from portal.apikit.openapi import PortalAPI
from portal.apikit.problems import install_handlers

api = PortalAPI(
    title="Customer Portal API",
    version="1",
    description=(
        "The portal's features for your own systems. Authenticate with a personal access "
        "token (`Authorization: Bearer cpat_…`, created under Account → API tokens) or, from "
        "the browser, with your session. Errors are RFC 9457 problem documents "
        "(`application/problem+json`); lists are paged (`page`, `page_size`) with `next` and "
        "`previous` links."
    ),
    urls_namespace="api-v1",
    auth=[token_auth, session_auth],
    openapi_url="/openapi.json",
    docs_url=None,
)
install_handlers(api)

api.add_router("", "portal.accounts.api.router")
api.add_router("", "portal.customers.api.router")
api.add_router("", "portal.live.api.router")
api.add_router("", "portal.content.api.router")
api.add_router("", "portal.documents.api.router")
api.add_router("", "portal.servicedesk.api.router")
