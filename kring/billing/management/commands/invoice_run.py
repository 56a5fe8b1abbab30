from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kring.billing import invoicing


class Command(BaseCommand):
    help = (
        "Create the dues invoices of a period (2027, 2027-H1, 2027-Q1 or 2027-01). Safe to run again: "
        "only invoices that are missing are created."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="2027, 2027-H1, 2027-Q1 or 2027-01")
        parser.add_argument("--date", help="The invoice date, YYYY-MM-DD (default: today).")
        parser.add_argument("--preview", action="store_true", help="Only show what would be created.")

    def handle(self, *args, **options):
        period = options["period"]
        try:
            invoice_date = _parse_date(options["date"]) if options["date"] else None
            if options["preview"]:
                self.show_preview(invoicing.preview_invoice_run(period, invoice_date))
                return
            run = invoicing.run_invoices(
                period,
                invoice_date=invoice_date,
                actor=None,
                progress=self.progress if options["verbosity"] >= 2 else None,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(
            _(
                "Invoice run %(period)s (invoice date %(date)s): %(count)s invoices created, total € %(total)s."
            )
            % {"period": run.period, "date": run.invoice_date, "count": run.invoice_count, "total": run.total}
        )
        for row in invoicing.run_summary(run).rows:
            self.stdout.write(
                f"  {row.plan_name:<30} {row.frequency_label:<15} {row.invoice_count:>9}  € {row.total:>14}"
            )

    def show_preview(self, preview):
        self.stdout.write(
            _("Preview %(period)s (%(start)s – %(end)s), invoice date %(date)s: nothing has been created.")
            % {
                "period": preview.period.code,
                "start": preview.period.start,
                "end": preview.period.end,
                "date": preview.invoice_date,
            }
        )
        for row in preview.rows:
            self.stdout.write(
                f"  {row.plan_name:<30} {row.frequency_label:<15} {row.invoice_count:>9}  € {row.total:>14}"
            )
        self.stdout.write(
            _("Total: %(count)s invoices for %(memberships)s memberships, € %(total)s.")
            % {
                "count": preview.invoice_count,
                "memberships": preview.membership_count,
                "total": preview.total,
            }
        )

    def progress(self, done, total, label):
        self.stdout.write(f"{done}/{total} {label}")


def _parse_date(text: str):
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(_("--date must be a date like 2027-01-01.")) from None
