"""The treasurer records a payment by hand (a bank transfer, cash, money paid back) or writes an
invoice off. Each form calls one service: billing.services.record_payment or write_off."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kring.backoffice.forms import BackofficeForm, add_service_errors, choice_radios, date_field
from kring.backoffice.permissions import staff_required
from kring.backoffice.templatetags.backoffice import format_money, status_label
from kring.backoffice.views.finance import AmountField, finance_context, may_write_off
from kring.billing import services
from kring.billing.models import Invoice, Payment

# What the treasurer can record by hand; online payments and bank-statement lines come in by themselves.
MANUAL_METHODS = (
    Payment.Method.TRANSFER,
    Payment.Method.CASH,
    Payment.Method.DIRECT_DEBIT,
    Payment.Method.REFUND,
)


class PaymentForm(BackofficeForm):
    amount = AmountField(
        label=gettext_lazy("Amount"),
        error_messages={"required": gettext_lazy("Enter the amount that was paid.")},
    )
    paid_on = date_field(gettext_lazy("Date paid"), help_text=gettext_lazy("The day the money came in."))
    method = forms.ChoiceField(
        label=gettext_lazy("How was it paid?"),
        choices=[(method.value, method.label) for method in MANUAL_METHODS],
        widget=choice_radios(),
        error_messages={"required": gettext_lazy("Choose how it was paid.")},
        help_text=gettext_lazy(
            "For money paid back to the payer, choose 'refund' and enter the amount without a minus sign."
        ),
    )
    reference = forms.CharField(
        label=gettext_lazy("Reference (optional)"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("For example the description on the bank statement, or the receipt number."),
    )
    note = forms.CharField(
        label=gettext_lazy("Note (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, invoice: Invoice, **kwargs):
        super().__init__(*args, **kwargs)
        open_amount = invoice.open_amount
        if open_amount:
            self.fields["amount"].initial = abs(open_amount)
        self.fields["paid_on"].initial = timezone.localdate()
        self.fields["method"].initial = Payment.Method.REFUND if open_amount < 0 else Payment.Method.TRANSFER

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is not None and amount <= 0:
            raise ValidationError(_("Enter an amount of more than 0."))
        return amount

    def signed_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        return -amount if self.cleaned_data["method"] == Payment.Method.REFUND else amount


class WriteOffForm(BackofficeForm):
    reason = forms.CharField(
        label=gettext_lazy("Why is the invoice written off?"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "For example: the member has moved abroad and cannot be reached. Kept in the history."
        ),
        error_messages={"required": gettext_lazy("Say why the invoice is written off.")},
    )


def get_invoice(pk: int) -> Invoice:
    return get_object_or_404(Invoice.objects.select_related("member"), pk=pk)


def back_to_invoice(invoice: Invoice):
    return redirect("backoffice:finance_invoice_detail", pk=invoice.pk)


def form_page(request, template: str, *, invoice: Invoice, form, title: str):
    return render(
        request,
        template,
        finance_context(
            request, "invoices", invoice=invoice, form=form, title=title, problems=form.error_summary()
        ),
    )


@staff_required("billing.view_invoice", "billing.add_payment")
def finance_payment_new(request, pk: int):
    invoice = get_invoice(pk)
    if invoice.status == Invoice.Status.WRITTEN_OFF:
        messages.error(
            request,
            _("Invoice %(number)s was written off; no payment can be recorded on it.")
            % {"number": invoice.number},
        )
        return back_to_invoice(invoice)
    form = PaymentForm(request.POST or None, invoice=invoice)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            payment = services.record_payment(
                invoice,
                amount=form.signed_amount(),
                paid_on=data["paid_on"],
                method=data["method"],
                actor=request.user,
                source=Payment.Source.TREASURER,
                reference=data["reference"],
                note=data["note"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            invoice.refresh_from_db(fields=["status", "amount_paid", "amount_credited"])
            messages.success(
                request,
                _("%(amount)s has been recorded on invoice %(number)s. It is now %(status)s.")
                % {
                    "amount": format_money(payment.amount),
                    "number": invoice.number,
                    "status": status_label(invoice.payment_state),
                },
            )
            return back_to_invoice(invoice)
    return form_page(
        request,
        "backoffice/finance/payment_form.html",
        invoice=invoice,
        form=form,
        title=_("Record a payment for invoice %(number)s") % {"number": invoice.number},
    )


@staff_required("billing.view_invoice", "billing.change_invoice")
def finance_invoice_write_off(request, pk: int):
    invoice = get_invoice(pk)
    if not may_write_off(invoice):
        messages.error(
            request,
            _("Invoice %(number)s is %(status)s: there is nothing to write off.")
            % {"number": invoice.number, "status": status_label(invoice.payment_state)},
        )
        return back_to_invoice(invoice)
    form = WriteOffForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.write_off(invoice, actor=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Invoice %(number)s has been written off: %(amount)s is no longer expected.")
                % {"number": invoice.number, "amount": format_money(invoice.open_amount)},
            )
            return back_to_invoice(invoice)
    return form_page(
        request,
        "backoffice/finance/write_off_form.html",
        invoice=invoice,
        form=form,
        title=_("Write off invoice %(number)s") % {"number": invoice.number},
    )
