from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kring.sepa.models import StatementTransaction
from kring.sepa.reconciliation import import_statement
from kring.sepa.statements import StatementFileError


class Command(BaseCommand):
    help = (
        "Import bank statements (camt.053 XML or Belgian CODA, recognised by their content) and match "
        "their transactions to invoices. The same file twice changes nothing. A broken file imports "
        "nothing and stops with exit code 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="camt.053 or CODA files")

    def handle(self, *args, **options):
        labels = dict(StatementTransaction.Match.choices)
        for name in options["files"]:
            path = Path(name)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise CommandError(
                    _("%(file)s: cannot be read (%(error)s).") % {"file": name, "error": exc}
                ) from None
            try:
                result = import_statement(data, path.name, actor=None)
            except StatementFileError as exc:
                raise CommandError(f"{name}: {' '.join(exc.messages)}") from None
            if result.already_imported:
                self.stdout.write(f"{name}: {result.message}")
                continue
            self.stdout.write(
                _("%(file)s: %(count)s transactions, %(unmatched)s not matched, %(returns)s returns")
                % {
                    "file": name,
                    "count": result.transactions,
                    "unmatched": result.unmatched,
                    "returns": result.returns,
                }
            )
            for rule, count in sorted(result.matched.items()):
                self.stdout.write(f"  {labels.get(rule, rule)}: {count}")
