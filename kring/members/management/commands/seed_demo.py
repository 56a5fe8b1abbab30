from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kring.billing.demo import seed_demo_finance
from kring.core.models import User
from kring.members import demo
from kring.members.demo import TREASURER_LOGIN


class Command(BaseCommand):
    help = "Load the demo association: plans, demo logins and realistic Dutch and Belgian members."

    def add_arguments(self, parser):
        parser.add_argument(
            "--members",
            type=int,
            default=demo.DEFAULT_MEMBERS,
            help=f"How many members to create (default {demo.DEFAULT_MEMBERS}).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=demo.DEFAULT_SEED,
            help="The same seed gives the same members (default %(default)s).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when the member administration already has members.",
        )

    def handle(self, *args, members, seed, if_empty, **options):
        if members < demo.DEMO_HOUSEHOLD_SIZE:
            raise CommandError(
                _(
                    "--members must be at least %(minimum)s: the demo member's household alone has that many people."
                )
                % {"minimum": demo.DEMO_HOUSEHOLD_SIZE}
            )
        if demo.is_loaded():
            if if_empty:
                self.stdout.write(
                    _("The member administration already has members: the demo is not loaded again.")
                )
                return
            raise CommandError(
                _(
                    "The member administration already has members, so the demo is not loaded. Use --if-empty to "
                    "skip this step quietly, or start from an empty database."
                )
            )
        show_progress = members >= 100_000 and options["verbosity"] >= 1

        def progress(done, total):
            if show_progress and (done % 100_000 < demo.BATCH_SIZE or done == total):
                self.stdout.write(_("%(done)s of %(total)s members") % {"done": done, "total": total})

        try:
            # Members and their finances load together or not at all.
            with transaction.atomic():
                result = demo.seed_demo(members, seed, progress=progress)
                finance = seed_demo_finance(
                    today=timezone.localdate(), actor=User.objects.get(email=TREASURER_LOGIN)
                )
        except demo.AlreadyLoaded:
            raise CommandError(
                _("The member administration already has members, so the demo is not loaded.")
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                _("Demo association loaded: %(members)s members in %(seconds).1f seconds.")
                % {"members": result.members, "seconds": result.seconds}
            )
        )
        self.stdout.write(
            _("Dues invoiced for %(periods)s: %(invoices)s invoices, %(payments)s of them paid.")
            % {
                "periods": ", ".join(finance.runs) or "-",
                "invoices": finance.invoices,
                "payments": finance.payments,
            }
        )
