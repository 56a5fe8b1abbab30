"""What Kring does when a direct debit comes back (R-transactions), per ISO reason code.

`RETURN_ACTIONS` is the table the association can read in the back office: for each code what it
means, what Kring does, and what the treasurer should do. Every return first reverses the
payment (`record_payment(…, method="reversal")`), so the invoice is open again ("reversed").
Then one action applies:

- suspend_mandate: the mandate is suspended (no more collections on it) and the member is asked
  for new account details or a new mandate (closed account, no mandate, …);
- retry_once: the invoice goes into the next collection once more (insufficient funds); when it
  comes back again the normal reminders take over;
- remind_and_flag: no new collection; the member is asked to pay by transfer and the invoice is
  flagged for the secretariat to get in touch (the member refused the debit);
- reopen: the invoice is simply open again; no new collection (a refund the member asked for
  within 8 weeks is their right); the membership stays;
- check: something on the association's or a bank's side; the treasurer checks it; the member
  is not written to;
- deceased: the mandate is suspended and the secretariat is flagged; nobody is emailed.

The membership stays active after a return: its status follows the money through the reminder
schedule, which can lapse it when the dues stay unpaid.
"""

from dataclasses import dataclass
from email.utils import formataddr

from django.conf import settings
from django.core import mail
from django.utils import translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

SUSPEND_MANDATE = "suspend_mandate"
RETRY_ONCE = "retry_once"
REMIND_AND_FLAG = "remind_and_flag"
REOPEN = "reopen"
CHECK = "check"
DECEASED = "deceased"

ACTION_LABELS = {
    SUSPEND_MANDATE: gettext_lazy("Mandate suspended; member asked for new details"),
    RETRY_ONCE: gettext_lazy("Collected again in the next batch, once; then reminders"),
    REMIND_AND_FLAG: gettext_lazy(
        "Not collected again; member asked to transfer; flagged for the secretariat"
    ),
    REOPEN: gettext_lazy("Invoice open again; not collected again; membership stays"),
    CHECK: gettext_lazy("Invoice open again; the treasurer checks the cause"),
    DECEASED: gettext_lazy("Mandate suspended; flagged for the secretariat; no email"),
}


@dataclass(frozen=True)
class ReturnAction:
    action: str
    meaning: str  # what the code means, in plain words (also what the member reads)
    treasurer: str  # what the treasurer should do

    @property
    def action_label(self) -> str:
        return str(ACTION_LABELS[self.action])


def _row(action, meaning, treasurer) -> ReturnAction:
    return ReturnAction(action, meaning, treasurer)


# Translated when shown (lazy).
RETURN_ACTIONS: dict[str, ReturnAction] = {
    "AC01": _row(SUSPEND_MANDATE, gettext_lazy("The account number is wrong."), gettext_lazy("Ask the member for the right account number and a new mandate.")),
    "AC04": _row(SUSPEND_MANDATE, gettext_lazy("The account has been closed."), gettext_lazy("Ask the member for their new account and record an amendment or a new mandate.")),
    "AC06": _row(SUSPEND_MANDATE, gettext_lazy("The account is blocked."), gettext_lazy("Ask the member for another account or to pay by transfer.")),
    "AG01": _row(SUSPEND_MANDATE, gettext_lazy("Direct debits are not allowed on this account (for example a savings account)."), gettext_lazy("Ask the member for a current account or to pay by transfer.")),
    "AM04": _row(RETRY_ONCE, gettext_lazy("There was not enough money in the account."), gettext_lazy("Nothing: Kring collects once more in the next batch; after that the reminders follow.")),
    "AM05": _row(CHECK, gettext_lazy("The same debit was sent twice."), gettext_lazy("Check whether the member paid twice; refund if so.")),
    "BE05": _row(CHECK, gettext_lazy("The bank does not recognise the association as creditor."), gettext_lazy("Check the creditor identifier in the direct-debit settings with the bank.")),
    "CNOR": _row(CHECK, gettext_lazy("The association's bank cannot be reached for this debit."), gettext_lazy("Contact the association's bank.")),
    "DNOR": _row(SUSPEND_MANDATE, gettext_lazy("The member's bank cannot be reached for direct debits."), gettext_lazy("Ask the member for an account at another bank or to pay by transfer.")),
    "FF01": _row(CHECK, gettext_lazy("The collection file was not accepted by the bank."), gettext_lazy("Check the collection file and send it again.")),
    "MD01": _row(SUSPEND_MANDATE, gettext_lazy("The bank has no mandate for this debit."), gettext_lazy("Ask the member to sign a new mandate.")),
    "MD02": _row(SUSPEND_MANDATE, gettext_lazy("The mandate is missing details or has wrong details."), gettext_lazy("Check the mandate and ask the member to sign a new one.")),
    "MD06": _row(REOPEN, gettext_lazy("The member asked their bank for the money back (allowed within 8 weeks)."), gettext_lazy("Ask the member to pay by transfer; the membership stays.")),
    "MD07": _row(DECEASED, gettext_lazy("The account holder has died."), gettext_lazy("The secretariat gets in touch with the family with care; stop collecting.")),
    "MS02": _row(REMIND_AND_FLAG, gettext_lazy("The member refused the debit."), gettext_lazy("The secretariat gets in touch with the member; a reminder is sent.")),
    "MS03": _row(REMIND_AND_FLAG, gettext_lazy("The bank refused the debit without giving a reason."), gettext_lazy("The secretariat gets in touch with the member; a reminder is sent.")),
    "RR01": _row(SUSPEND_MANDATE, gettext_lazy("The account or the account holder's identification is missing."), gettext_lazy("Ask the member for complete account details.")),
    "RR02": _row(SUSPEND_MANDATE, gettext_lazy("The account holder's name or address is missing."), gettext_lazy("Complete the member's name and address and the mandate.")),
    "RR03": _row(CHECK, gettext_lazy("The association's name or address is missing."), gettext_lazy("Complete the association's details in the direct-debit settings.")),
    "RR04": _row(REMIND_AND_FLAG, gettext_lazy("The bank refused the debit for legal reasons."), gettext_lazy("The secretariat gets in touch with the member; ask for payment by transfer.")),
    "SL01": _row(SUSPEND_MANDATE, gettext_lazy("The member's bank blocks debits from the association (the member set this up)."), gettext_lazy("Ask the member to lift the block or to pay by transfer.")),
    "TM01": _row(RETRY_ONCE, gettext_lazy("The collection file reached the bank too late."), gettext_lazy("Nothing: Kring collects once more in the next batch. Hand in files before the bank's cut-off time.")),
}  # fmt: skip

UNKNOWN = ReturnAction(
    CHECK,
    gettext_lazy("The bank gave a reason Kring does not know."),
    gettext_lazy("Look the code up with the bank and decide what to do."),
)


def action_for(code: str) -> ReturnAction:
    return RETURN_ACTIONS.get((code or "").upper(), UNKNOWN)


def may_collect_again(code: str) -> bool:
    """Whether an invoice that came back with this code may go into a next collection (once)."""
    return action_for(code).action == RETRY_ONCE


def member_email(invoice, code: str, *, attempt: int = 1) -> mail.EmailMessage | None:
    """The email that tells the member what happened and what to do, or None when nobody is written to."""
    entry = action_for(code)
    address = invoice.recipient_email
    if entry.action in (CHECK, DECEASED) or not address:
        return None
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Your direct debit for invoice %(number)s came back") % {"number": invoice.number}
        what = {
            SUSPEND_MANDATE: _(
                "We can no longer collect from your account this way. Please send us your current account "
                "details, or sign a new direct-debit mandate, so that we can collect again. Until then, you "
                "can pay the amount by bank transfer."
            ),
            RETRY_ONCE: _(
                "We will try to collect the amount once more with our next collection. Please make sure "
                "there is enough money in your account."
            )
            if attempt < 2
            else _("We will not try again. Please pay the amount by bank transfer."),
            REMIND_AND_FLAG: _(
                "We will not collect this amount again. Please pay it by bank transfer. Someone from the "
                "association may contact you about it."
            ),
            REOPEN: _(
                "You asked your bank for this money back, which is your right. The invoice is open again; "
                "please pay it by bank transfer. Your membership continues."
            ),
        }[entry.action]
        lines = [
            _("Dear %(name)s,") % {"name": invoice.recipient_name},
            "",
            _("The direct debit of € %(amount)s for invoice %(number)s was returned by your bank.")
            % {"amount": number_format(invoice.total, decimal_pos=2), "number": invoice.number},
            _("The reason your bank gave: %(meaning)s") % {"meaning": entry.meaning},
            "",
            what,
            "",
            _("Payment reference: %(reference)s") % {"reference": invoice.payment_reference},
            "",
            _("Kind regards,"),
            _("The treasurer"),
        ]
        return mail.EmailMessage(
            subject=subject,
            body="\n".join(str(line) for line in lines) + "\n",
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[formataddr((invoice.recipient_name, address))],
        )
