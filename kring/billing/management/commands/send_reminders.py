"""python manage.py send_reminders [--date YYYY-MM-DD]

Takes every reminder step that is due and delivers it once: emails, a print batch for members
who prefer paper, and invoices flagged for the secretariat. Safe to run every day, twice, or at
the same time on two machines (see kring.billing.reminders). Prints what it did per step and
channel; exits with code 1 when emails could not be sent (they are tried again next run).
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kring.billing.reminders import send_reminders


class Command(BaseCommand):
    help = "Send the payment reminders that are due today (safe to run every day)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            default="",
            help="Run as if it were this day (YYYY-MM-DD); default today.",
        )

    def handle(self, *args, **options):
        today = None
        if options["date"]:
            try:
                today = date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError(_("Give the date as YYYY-MM-DD, for example 2027-03-01.")) from None
        report = send_reminders(today=today)
        for line in report.lines():
            self.stdout.write(line)
        if report.total_failed:
            raise CommandError(
                _("%(count)s emails could not be sent; they are tried again next run.")
                % {"count": report.total_failed},
                returncode=1,
            )
