"""Direct-debit mandates in the back office: print a member's mandate form, record a signed one.

- finance_mandate_form_pdf: the pre-filled "Doorlopende machtiging SEPA" form to print and sign.
- finance_mandate_new: the treasurer records the signed paper form; the member's previous mandate
  is revoked and the member pays by direct debit from now on.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kring.backoffice.forms import (
    BackofficeForm,
    add_service_errors,
    choice_radios,
    date_field,
    required_message,
)
from kring.backoffice.permissions import staff_required
from kring.members.models import Member
from kring.sepa import services
from kring.sepa.models import Mandate

VIEW = "sepa.view_mandate"
ADD = "sepa.add_mandate"


class PaperMandateForm(BackofficeForm):
    signed_on = date_field(
        gettext_lazy("Date of signature"), help_text=gettext_lazy("The date the member wrote on the form.")
    )
    debtor_name = forms.CharField(
        label=gettext_lazy("Account holder"),
        max_length=70,
        error_messages=required_message(gettext_lazy("Enter the account holder's name.")),
    )
    iban = forms.CharField(
        label=gettext_lazy("IBAN"),
        max_length=42,
        help_text=gettext_lazy("As written on the form. Spaces do not matter."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages=required_message(gettext_lazy("Enter an IBAN.")),
    )
    bic = forms.CharField(
        label=gettext_lazy("BIC (optional)"),
        required=False,
        max_length=11,
        help_text=gettext_lazy("Leave empty: for most banks it is filled in from the IBAN."),
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind of mandate"),
        choices=Mandate.Kind.choices,
        initial=Mandate.Kind.RECURRENT,
        widget=choice_radios(),
    )
    reference = forms.CharField(
        label=gettext_lazy("Mandate reference (optional)"),
        required=False,
        max_length=35,
        help_text=gettext_lazy(
            "Only if the printed form has a reference on it. Leave empty and Kring makes one."
        ),
    )


@staff_required(VIEW)
def finance_mandate_form_pdf(request, member_pk: int):
    member = get_object_or_404(Member, pk=member_pk)
    response = HttpResponse(services.render_mandate_form_pdf(member), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="mandate-{member.member_number}.pdf"'
    return response


@staff_required(VIEW, ADD)
def finance_mandate_new(request, member_pk: int):
    member = get_object_or_404(Member, pk=member_pk)
    current = Mandate.objects.filter(member=member, status=Mandate.Status.ACTIVE).first()
    account = member.bank_accounts.filter(is_primary=True).first()
    initial = {
        "signed_on": timezone.localdate(),
        "debtor_name": account.holder_name if account else member.display_name,
        "bic": account.bic if account else "",
    }
    form = PaperMandateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            mandate = services.record_paper_mandate(member, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error, default="iban")
        else:
            messages.success(
                request,
                _("The mandate %(reference)s of %(name)s is recorded. %(name)s now pays by direct debit.")
                % {"reference": mandate.reference, "name": member.display_name},
            )
            return redirect("backoffice:member_detail", member.pk)
    return render(
        request,
        "backoffice/finance/mandates/form.html",
        {
            "form": form,
            "member": member,
            "current": current,
            "problems": form.error_summary(),
            "section": "members",
            "title": _("Record a signed mandate"),
            "submit_label": _("Record the mandate"),
        },
    )
