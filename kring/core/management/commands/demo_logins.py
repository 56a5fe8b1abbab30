from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from kring.members import demo


class Command(BaseCommand):
    help = "Print the demo logins and where to open Kring."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="The address Kring runs on.")

    def handle(self, *args, url, **options):
        logins = demo.existing_demo_logins()
        if not logins:
            self.stdout.write(_("There are no demo logins yet. Load them with: python manage.py seed_demo"))
            return
        rows = [(_("Role"), _("Email address"), _("Password"))]
        rows += [(_(login.role), login.email, demo.DEMO_PASSWORD) for login in logins]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        self.stdout.write(_("Demo logins for %(url)s") % {"url": url})
        self.stdout.write(line)
        for position, row in enumerate(rows):
            self.stdout.write(
                "| " + " | ".join(value.ljust(w) for value, w in zip(row, widths, strict=True)) + " |"
            )
            if position == 0:
                self.stdout.write(line)
        self.stdout.write(line)
        self.stdout.write(_("Staff logins skip the second factor: demo only."))
