from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from portal.accounts.request import signed_in_user

from . import selectors, services
from .access import customer_permission_required, set_active_customer
from .forms import InvitationForm, RoleForm, SecurityPolicyForm
from .models import Membership
from .roles import Permission, Role

ACTIVITY_PAGE_SIZE = 25


def _membership(request: HttpRequest) -> Membership:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    return membership


@login_required
@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    try:
        customer_id = int(request.POST.get("customer", ""))
    except ValueError:
        customer_id = -1
    membership = set_active_customer(request, customer_id)
    messages.info(
        request, _("You are now acting for %(name)s.") % {"name": membership.customer.name}
    )
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    return redirect(next_url)


@customer_permission_required(Permission.MEMBERS_MANAGE)
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest) -> HttpResponse:
    customer = _membership(request).customer
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(
                customer=customer,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=signed_in_user(request),
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("An invitation has been sent to %(email)s.")
                % {"email": form.cleaned_data["email"]},
            )
            return redirect("customers:members")
    context = {
        "customer": customer,
        "members": selectors.members_of_customer(customer=customer),
        "invitations": selectors.pending_invitations(customer=customer),
        "invite_form": form,
        "roles": [(role, role.label, role.description) for role in Role],
    }
    return render(request, "customers/members.html", context)


@customer_permission_required(Permission.MEMBERS_MANAGE)
@require_http_methods(["GET", "POST"])
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    customer = _membership(request).customer
    member = selectors.member_get_for_admin(customer=customer, membership_id=membership_id)
    form = RoleForm(request.POST or None, initial={"role": member.role})
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_change_role(
                membership=member,
                role=form.cleaned_data["role"],
                actor=signed_in_user(request),
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, _("The role of %(email)s has been changed.") % {"email": member.user.email}
            )
            return redirect("customers:members")
    return render(request, "customers/member_role.html", {"member": member, "form": form})


@customer_permission_required(Permission.MEMBERS_MANAGE)
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    customer = _membership(request).customer
    member = selectors.member_get_for_admin(customer=customer, membership_id=membership_id)
    error = None
    if request.method == "POST":
        try:
            services.membership_remove(
                membership=member, actor=signed_in_user(request), request=request
            )
        except ValidationError as exc:
            error = exc.messages[0]
        else:
            messages.success(
                request,
                _("%(email)s is no longer a member of %(customer)s.")
                % {"email": member.user.email, "customer": customer.name},
            )
            if member.user_id == request.user.pk:
                return redirect("core:dashboard")
            return redirect("customers:members")
    return render(
        request,
        "customers/member_remove.html",
        {"member": member, "error": error, "is_self": member.user_id == request.user.pk},
    )


@customer_permission_required(Permission.MEMBERS_MANAGE)
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    customer = _membership(request).customer
    invitation = selectors.invitation_get_for_admin(customer=customer, invitation_id=invitation_id)
    services.invitation_revoke(
        invitation=invitation, actor=signed_in_user(request), request=request
    )
    messages.success(
        request, _("The invitation to %(email)s has been withdrawn.") % {"email": invitation.email}
    )
    return redirect("customers:members")


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_for_token(token)
    if invitation is None:
        return render(request, "customers/invitation_invalid.html", status=404)
    if not request.user.is_authenticated:
        return render(request, "customers/invitation_sign_in.html", {"invitation": invitation})
    error = None
    if request.method == "POST":
        try:
            membership = services.invitation_accept(
                token=token, user=signed_in_user(request), request=request
            )
        except ValidationError as exc:
            error = exc.messages[0]
        else:
            set_active_customer(request, membership.customer_id)
            messages.success(
                request, _("Welcome to %(customer)s.") % {"customer": membership.customer.name}
            )
            return redirect("core:dashboard")
    return render(
        request, "customers/invitation_accept.html", {"invitation": invitation, "error": error}
    )


@customer_permission_required(Permission.CUSTOMER_MANAGE)
@require_http_methods(["GET", "POST"])
def security(request: HttpRequest) -> HttpResponse:
    customer = _membership(request).customer
    form = SecurityPolicyForm(request.POST or None, initial={"require_mfa": customer.require_mfa})
    if request.method == "POST" and form.is_valid():
        services.customer_set_require_mfa(
            customer=customer,
            require=form.cleaned_data["require_mfa"],
            actor=signed_in_user(request),
            request=request,
        )
        messages.success(request, _("The security settings have been saved."))
        return redirect("customers:security")
    return render(request, "customers/security.html", {"customer": customer, "form": form})


@customer_permission_required(Permission.ACTIVITY_VIEW)
def activity(request: HttpRequest) -> HttpResponse:
    customer = _membership(request).customer
    page = Paginator(
        selectors.activity_for_customer(customer=customer), ACTIVITY_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(request, "customers/activity.html", {"customer": customer, "page": page})
