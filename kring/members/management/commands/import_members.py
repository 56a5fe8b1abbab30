"""python manage.py import_members FILE [--apply]

Checks a member list (CSV or Excel) and prints which column holds what and, row by row, what
the import would do or what is wrong. With --apply it imports: all rows or, when any row has a
problem, none. Exits with a non-zero code when the file has problems.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kring.core.models import User
from kring.members.importing import ImportFileError, run_import, text_report


class Command(BaseCommand):
    help = "Check (and with --apply, import) a member list: CSV or Excel (.xlsx)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The member list: a .csv or .xlsx file.")
        parser.add_argument(
            "--apply",
            action="store_true",
            help="Import the file. Without it the file is only checked and nothing is saved.",
        )
        parser.add_argument(
            "--user",
            default="",
            help="Email address of the staff member doing the import (named in the history).",
        )

    def handle(self, *args, file, apply, user, verbosity, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(
                _("There is no file %(path)s. Check the name and the folder.") % {"path": file}
            )
        actor = None
        if user:
            actor = User.objects.filter(email__iexact=user, is_staff=True).first()
            if actor is None:
                raise CommandError(
                    _("There is no staff member with the email address %(email)s.") % {"email": user}
                )
        try:
            report = run_import(path.read_bytes(), path.name, apply=apply, actor=actor)
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        for line in text_report(report, verbose=verbosity > 1):
            self.stdout.write(line)
        if report.has_errors:
            raise CommandError(_("The file has problems; nothing was imported."), returncode=1)
