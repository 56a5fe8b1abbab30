"""Reminders in the back office: the schedule, the letters to print, and what was flagged.

- reminder_schedule: the steps (how many days after the due date, what happens), what was sent
  in the last 30 days, and "Send reminders now" for the treasurer (a background job; the daily
  cron run does the same).
- reminder_step_edit: change one step (kring.billing.reminders.update_reminder_step checks it).
- print_batch_list / print_batch_pdf / print_batch_printed: the letters for members who prefer
  paper, one PDF per run, and "printed and posted" once they went out.
- flagged_list: invoices still unpaid after the last reminder, for the secretariat to follow up.
"""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kring.backoffice.forms import BackofficeForm, add_service_errors
from kring.backoffice.permissions import staff_required
from kring.backoffice.views.finance import finance_context
from kring.backoffice.views.jobs import get_job_for
from kring.billing import queries, reminders
from kring.billing.letters import print_batch_filename, render_print_batch_pdf
from kring.billing.models import PrintBatch, Reminder, ReminderStep
from kring.core.jobs import start_job

SEND_JOB = "billing.send_reminders"
PER_PAGE = 50
RECENT_DAYS = 30


# --- the schedule -----------------------------------------------------------------------------


@staff_required("billing.view_reminder")
def reminder_schedule(request):
    steps = list(ReminderStep.objects.order_by("level"))
    job = None
    if request.GET.get("job", "").isdigit():
        job = get_job_for(request.user, int(request.GET["job"]), kind=SEND_JOB)
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    recent = list(
        Reminder.objects.filter(sent_at__gte=since)
        .order_by("level", "channel")
        .values_list("level", "channel")
        .annotate(count=Count("pk"))
    )
    channels = dict(Reminder.Channel.choices)
    return render(
        request,
        "backoffice/finance/reminders/schedule.html",
        finance_context(
            request,
            "reminders",
            steps=steps,
            job=job,
            recent=[(level, channels.get(channel, channel), count) for level, channel, count in recent],
            recent_days=RECENT_DAYS,
            placeholders=", ".join("{" + name + "}" for name in reminders.PLACEHOLDERS),
        ),
    )


class ReminderStepForm(BackofficeForm):
    days_after_due = forms.IntegerField(
        label=gettext_lazy("Days after the due date"),
        min_value=1,
        max_value=365,
        help_text=gettext_lazy("Counted from the day the invoice should have been paid."),
        widget=forms.NumberInput(attrs={"class": "input--short"}),
        error_messages={
            "required": gettext_lazy("Enter a number of days."),
            "invalid": gettext_lazy("Enter a whole number of days, for example 14."),
            "min_value": gettext_lazy("Enter a number of days of 1 or more."),
            "max_value": gettext_lazy("Enter at most 365 days."),
        },
    )
    action = forms.ChoiceField(
        label=gettext_lazy("What happens"),
        choices=ReminderStep.Action.choices,
        widget=forms.RadioSelect(attrs={"class": "choice-list"}),
        error_messages={"required": gettext_lazy("Choose what happens at this step.")},
    )
    subject = forms.CharField(
        label=gettext_lazy("Subject of the reminder"),
        required=False,
        max_length=200,
        help_text=gettext_lazy(
            "Leave empty for the standard subject. Not used when the invoice is only flagged."
        ),
    )
    text = forms.CharField(
        label=gettext_lazy("Text of the reminder"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=gettext_lazy(
            "Leave empty for the standard text. An empty line starts a new paragraph. "
            "The amount still open and how to pay are always added below it."
        ),
    )


@staff_required("billing.view_reminder", "billing.change_reminderstep")
def reminder_step_edit(request, pk: int):
    step = get_object_or_404(ReminderStep, pk=pk)
    initial = {name: getattr(step, name) for name in ("days_after_due", "action", "subject", "text")}
    form = ReminderStepForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            reminders.update_reminder_step(step, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, _("Step %(level)s of the reminder schedule has been saved.") % {"level": step.level}
            )
            return redirect("backoffice:finance_reminder_schedule")
    neighbours = ReminderStep.objects.exclude(pk=step.pk).order_by("level")
    return render(
        request,
        "backoffice/finance/reminders/step_form.html",
        finance_context(
            request,
            "reminders",
            form=form,
            step=step,
            others=list(neighbours),
            problems=form.error_summary() if form.is_bound else [],
            placeholders=", ".join("{" + name + "}" for name in reminders.PLACEHOLDERS),
        ),
    )


@staff_required("billing.view_reminder", "billing.change_invoice")
@require_POST
def reminders_send(request):
    job = start_job(SEND_JOB, params={"language": translation.get_language()}, user=request.user)
    return redirect(f"{reverse('backoffice:finance_reminder_schedule')}?job={job.pk}")


# --- print batches ----------------------------------------------------------------------------


@staff_required("billing.view_printbatch")
def print_batch_list(request):
    batches = PrintBatch.objects.filter(kind=PrintBatch.Kind.REMINDERS).order_by("-created_at", "-pk")
    page = Paginator(batches, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/finance/reminders/print_batches.html",
        finance_context(request, "print_batches", page=page),
    )


@staff_required("billing.view_printbatch")
def print_batch_pdf(request, pk: int):
    batch = get_object_or_404(PrintBatch, pk=pk)
    response = HttpResponse(render_print_batch_pdf(batch), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{print_batch_filename(batch)}"'
    return response


@staff_required("billing.view_printbatch", "billing.change_printbatch")
@require_POST
def print_batch_printed(request, pk: int):
    batch = get_object_or_404(PrintBatch, pk=pk)
    reminders.mark_print_batch_printed(batch, actor=request.user)
    messages.success(
        request,
        _("The letters of %(date)s are marked as printed.")
        % {"date": date_format(timezone.localtime(batch.created_at), "j F Y")},
    )
    return redirect("backoffice:finance_print_batch_list")


# --- flagged for the secretariat --------------------------------------------------------------


@staff_required("billing.view_invoice")
def flagged_list(request):
    today = timezone.localdate()
    page = Paginator(queries.flagged_invoices(), PER_PAGE).get_page(request.GET.get("page"))
    rows = [(invoice, (today - invoice.due_date).days) for invoice in page.object_list]
    return render(
        request,
        "backoffice/finance/reminders/flagged.html",
        finance_context(request, "flagged", page=page, rows=rows),
    )
