"""Bank statements in the back office: upload a camt.053 or CODA file, see what was matched to which
invoice and by which rule, match what was not by hand, and read what each return code means.

The treasurer uploads and matches; the audit committee reads; others get 403. Each page calls
kring.sepa.reconciliation (commands) or reads with a fixed number of queries."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from kring.backoffice.forms import BackofficeForm, add_service_errors
from kring.backoffice.permissions import staff_required
from kring.backoffice.views.finance import finance_context
from kring.sepa import reconciliation, returns
from kring.sepa.models import BankStatement, StatementTransaction
from kring.sepa.statements import StatementFileError

MAX_UPLOAD = 50 * 1024 * 1024
SHOWN = 500
Match = StatementTransaction.Match
VIEW = ("sepa.view_bankstatement", "sepa.view_statementtransaction")


class UploadForm(BackofficeForm):
    file = forms.FileField(
        label=gettext_lazy("Statement file"),
        help_text=gettext_lazy(
            "A camt.053 file (XML) or a CODA file, as downloaded from your bank's business banking."
        ),
        error_messages={"required": gettext_lazy("Choose the file to import.")},
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            raise ValidationError(_("The file is larger than 50 MB; ask the bank for a statement per month."))
        return upload


class MatchForm(BackofficeForm):
    invoice_number = forms.CharField(
        label=gettext_lazy("Invoice number"),
        max_length=40,
        help_text=gettext_lazy("For example 2026-000123."),
        error_messages={"required": gettext_lazy("Enter the number of the invoice this money is for.")},
    )


@staff_required(*VIEW)
@require_safe
def finance_statement_list(request):
    statements = BankStatement.objects.select_related("imported_by").order_by("-imported_at", "-pk")[:200]
    unmatched = StatementTransaction.objects.filter(match=Match.UNMATCHED).count()
    return render(
        request,
        "backoffice/finance/statements/list.html",
        finance_context(request, "statements", statements=statements, unmatched=unmatched),
    )


@staff_required(*VIEW, "sepa.import_bankstatement")
def finance_statement_upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = reconciliation.import_statement(upload.read(), upload.name, actor=request.user)
        except StatementFileError as error:
            form.add_error("file", error.messages[0])
        else:
            if result.already_imported:
                messages.info(request, result.message)
            else:
                messages.success(request, result.message)
            return redirect("backoffice:finance_statement_detail", pk=result.statement.pk)
    return render(
        request,
        "backoffice/finance/statements/upload.html",
        finance_context(request, "statements", form=form, problems=form.error_summary()),
    )


@staff_required(*VIEW)
@require_safe
def finance_statement_detail(request, pk: int):
    statement = get_object_or_404(BankStatement.objects.select_related("imported_by"), pk=pk)
    transactions = list(statement.transactions.select_related("invoice").order_by("position")[:SHOWN])
    return render(
        request,
        "backoffice/finance/statements/detail.html",
        finance_context(request, "statements", statement=statement, transactions=transactions, shown=SHOWN),
    )


@staff_required(*VIEW)
@require_safe
def finance_statement_unmatched(request):
    transactions = list(
        StatementTransaction.objects.filter(match=Match.UNMATCHED)
        .select_related("statement")
        .order_by("-booking_date", "pk")[:SHOWN]
    )
    return render(
        request,
        "backoffice/finance/statements/unmatched.html",
        finance_context(
            request,
            "statements",
            transactions=transactions,
            form=MatchForm(),
            may_change=request.user.has_perm("sepa.change_statementtransaction"),
        ),
    )


@staff_required(*VIEW, "sepa.change_statementtransaction", "billing.add_payment")
@require_POST
def finance_statement_match(request, pk: int):
    tx = get_object_or_404(StatementTransaction, pk=pk)
    form = MatchForm(request.POST)
    if form.is_valid():
        try:
            tx = reconciliation.match_manually(
                tx, invoice_number=form.cleaned_data["invoice_number"], actor=request.user
            )
        except ValidationError as error:
            add_service_errors(form, error, rename={"invoice_number": "invoice_number"})
        else:
            messages.success(
                request,
                _("The money has been recorded on invoice %(number)s.") % {"number": tx.invoice.number},
            )
            return redirect("backoffice:finance_statement_unmatched")
    for _anchor, problem in form.error_summary():
        messages.error(request, problem)
    return redirect("backoffice:finance_statement_unmatched")


@staff_required(*VIEW, "sepa.change_statementtransaction")
@require_POST
def finance_statement_ignore(request, pk: int):
    tx = get_object_or_404(StatementTransaction, pk=pk)
    try:
        reconciliation.ignore_transaction(tx, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The transaction is marked as not for an invoice."))
    return redirect("backoffice:finance_statement_unmatched")


@staff_required("sepa.view_bankstatement")
@require_safe
def finance_statement_reasons(request):
    rows = [(code, entry) for code, entry in sorted(returns.RETURN_ACTIONS.items())]
    return render(
        request,
        "backoffice/finance/statements/reasons.html",
        finance_context(request, "statements", rows=rows),
    )
