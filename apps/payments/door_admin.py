"""The door in the admin: a scan form that checks tickets in through the same service as the API,
and how many of a session's tickets are in."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.core.errors import ApplicationError

from . import checkins, selectors

CHECK_IN = "payments.check_in_ticket"


class ScanForm(forms.Form):
    # A handheld scanner types the code and presses Enter: one field, focused, nothing else.
    code = forms.CharField(
        label=gettext_lazy("Ticket code"),
        max_length=64,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "size": 40}),
    )


def scan_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: check the code in, say what happened, and show the form again."""
    if not request.user.has_perm(CHECK_IN):
        raise PermissionDenied
    form = ScanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = checkins.ticket_check_in(code=form.cleaned_data["code"], by=request.user)
        except ApplicationError as error:
            model_admin.message_user(request, str(error.detail), messages.ERROR)
        else:
            model_admin.message_user(
                request,
                _("Let in at %(time)s: seat %(seat)s, %(type)s, %(session)s.")
                % {
                    "seat": ticket.session_seat.seat.label,
                    "session": ticket.sale.session,
                    "type": ticket.get_ticket_type_display(),
                    "time": formats.time_format(
                        ticket.sale.session.room.cinema.local(ticket.checked_in_at)
                    ),
                },
                messages.SUCCESS,
            )
        # Post/redirect/get: a reload never scans the same code twice.
        return HttpResponseRedirect(request.path)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Check tickets in"),
        "form": form,
    }
    return TemplateResponse(request, "admin/payments/ticket/scan.html", context)


def checked_in_summary(session_id: int) -> str:
    """ "12 of 40 tickets in" for a session's page."""
    checked_in, total = selectors.checked_in_count(session_id)
    return _("%(in)d of %(total)d ticket(s) in") % {"in": checked_in, "total": total}


def scan_url() -> str:
    return reverse("admin:payments_ticket_scan")
