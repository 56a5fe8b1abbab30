"""python manage.py send_invoices [--run RUN_ID] [--limit N] [--release-stale]

Emails every invoice and credit note that has not been emailed yet (and does not go by post),
with its PDF attached, over one connection to the configured SMTP server. Safe to run again, and
from two machines at once: each invoice is claimed before it is sent, so none goes out twice.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from kring.billing import mail, queries
from kring.billing.models import InvoiceRun


class Command(BaseCommand):
    help = "Email the invoices that have not been emailed yet, each with its PDF."

    def add_arguments(self, parser):
        parser.add_argument(
            "--run", type=int, dest="run_id", help="Only the invoices of this invoice run (its id)."
        )
        parser.add_argument("--limit", type=int, help="Send at most this many.")
        parser.add_argument(
            "--release-stale",
            action="store_true",
            help=(
                "First make invoices sendable again whose sending started more than an hour ago and was never "
                "confirmed (after a crash). Such an invoice may have been delivered already."
            ),
        )

    def handle(self, *args, run_id, limit, release_stale, **options):
        with translation.override(settings.LANGUAGE_CODE):
            if run_id is not None and not InvoiceRun.objects.filter(pk=run_id).exists():
                raise CommandError(_("There is no invoice run %(run)s.") % {"run": run_id})
            if limit is not None and limit < 1:
                raise CommandError(_("The limit must be 1 or more."))
            if release_stale:
                released = mail.release_stale_claims(older_than=timedelta(hours=1))
                self.stdout.write(
                    _("%(count)s unconfirmed invoices can be sent again.") % {"count": released}
                )
            ids = queries.unsent_invoice_ids(run_id=run_id, limit=limit)
            sent, skipped = mail.send_invoice_emails(ids)
            self.stdout.write(
                _("%(sent)s invoices emailed, %(skipped)s skipped.") % {"sent": sent, "skipped": skipped}
            )
