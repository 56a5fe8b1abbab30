from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kring.sepa import pain008
from kring.sepa.collection import collect


class Command(BaseCommand):
    help = (
        "Make the direct-debit collection file (pain.008) for a collection date: the open invoices of "
        "members paying by direct debit with a valid mandate who were told in time. Safe to run again: "
        "an invoice is never put in two collections."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version chooses the file version here (as the banks call it), not Django's version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--collection-date", required=True, help="The collection date, YYYY-MM-DD.")
        parser.add_argument("--out", required=True, help="Where to write the XML file.")
        parser.add_argument(
            "--version", choices=pain008.VERSIONS, help="File version (default: the direct-debit settings)."
        )

    def handle(self, *args, **options):
        try:
            collection_date = date.fromisoformat(options["collection_date"])
        except ValueError:
            raise CommandError(_("--collection-date must be a date like 2027-01-25.")) from None
        try:
            result = collect(
                collection_date,
                version=options["version"],
                actor=None,
                progress=self.progress if options["verbosity"] >= 2 else None,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if result.batch is not None:
            Path(options["out"]).write_bytes(result.xml)
            self.stdout.write(
                _(
                    "Collection file %(message_id)s (%(version)s) for %(date)s: %(count)d debits, total € %(total)s, written to %(out)s."
                )
                % {
                    "message_id": result.batch.message_id,
                    "version": result.version,
                    "date": collection_date.isoformat(),
                    "count": result.count,
                    "total": result.total,
                    "out": options["out"],
                }
            )
        else:
            self.stdout.write(
                _("Nothing to collect on %(date)s; no file was written.")
                % {"date": collection_date.isoformat()}
            )
        if result.uncollectable:
            self.stdout.write(
                _("%(count)d invoices cannot be collected:") % {"count": len(result.uncollectable)}
            )
            for item in result.uncollectable:
                self.stdout.write(
                    f"  {item.number:<16} € {item.amount:>10}  {item.name[:40]:<40}  {item.reason}"
                )

    def progress(self, done, total, label):
        self.stdout.write(f"{done}/{total} {label}")
