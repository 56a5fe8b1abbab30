"""The printable SEPA mandate form ("Doorlopende machtiging SEPA") for one member, pre-filled with
what the association knows, drawn with reportlab's canvas like the invoices."""

import io

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from kring.billing.pdf import pdf_text
from kring.core.models import Association
from kring.members.models import Member
from kring.members.validation import format_iban
from kring.sepa.models import CreditorSettings, Mandate

WIDTH, HEIGHT = A4
LEFT = 20 * mm
RIGHT = WIDTH - 20 * mm


def render_mandate_form_pdf(member: Member, *, reference: str | None = None) -> bytes:
    """The form as PDF bytes: creditor, mandate reference, purpose, the legally required text, and
    the debtor's fields pre-filled (name, address, IBAN, BIC) with room for place, date, signature."""
    from kring.sepa.services import new_mandate_reference

    with translation.override(settings.LANGUAGE_CODE):
        creditor = CreditorSettings.current()
        association = Association.objects.order_by("pk").first() or Association()
        mandate = Mandate.objects.filter(member=member, status=Mandate.Status.ACTIVE).first()
        reference = reference or (mandate.reference if mandate else new_mandate_reference(member))
        account = member.bank_accounts.filter(is_primary=True).first()
        creditor_name = creditor.creditor_name or association.name
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
        canvas.setCreator("Kring")
        canvas.setTitle(pdf_text(_("Recurring SEPA direct-debit mandate")))
        y = HEIGHT - 25 * mm
        canvas.setFont("Helvetica-Bold", 16)
        canvas.drawString(LEFT, y, pdf_text(_("Recurring SEPA direct-debit mandate")))
        y -= 12 * mm

        def row(label: str, value: str, *, bold=False, line=False):
            nonlocal y
            canvas.setFont("Helvetica", 10)
            canvas.drawString(LEFT, y, pdf_text(label))
            canvas.setFont("Helvetica-Bold" if bold else "Helvetica", 11)
            canvas.drawString(LEFT + 55 * mm, y, pdf_text(value))
            if line:
                canvas.setLineWidth(0.4)
                canvas.line(LEFT + 55 * mm, y - 1.5 * mm, RIGHT, y - 1.5 * mm)
            y -= 8 * mm

        def paragraph(text: str, size=10):
            nonlocal y
            canvas.setFont("Helvetica", size)
            for line in simpleSplit(pdf_text(text), "Helvetica", size, RIGHT - LEFT):
                canvas.drawString(LEFT, y, line)
                y -= size * 0.45 * mm
            y -= 4 * mm

        address = " ".join(p for p in (association.street, association.house_number) if p)
        town = " ".join(p for p in (association.postcode, association.city) if p)
        row(_("Creditor name"), creditor_name, bold=True)
        row(_("Address"), address)
        row(_("Postcode and town"), town)
        row(_("Country"), association.country or "")
        row(_("Creditor identifier"), creditor.creditor_identifier, bold=True)
        row(_("Mandate reference"), reference, bold=True)
        row(_("Purpose of the collection"), _("Membership dues (Contributie)"))
        y -= 3 * mm
        paragraph(
            _(
                "By signing this mandate form, you authorise (A) %(creditor)s to send instructions to "
                "your bank to debit your account and (B) your bank to debit your account in accordance "
                "with the instructions from %(creditor)s."
            )
            % {"creditor": creditor_name}
        )
        paragraph(
            _(
                "As part of your rights, you are entitled to a refund from your bank under the terms and "
                "conditions of your agreement with your bank. A refund must be claimed within 8 weeks "
                "starting from the date on which your account was debited. Your rights are explained in "
                "a statement that you can obtain from your bank."
            )
        )
        y -= 2 * mm
        canvas.setFont("Helvetica-Bold", 12)
        canvas.drawString(LEFT, y, pdf_text(_("Your details")))
        y -= 9 * mm
        street = " ".join(
            str(p) for p in (member.street, member.house_number or "", member.house_number_addition) if p
        )
        row(_("Name"), account.holder_name if account else member.display_name, line=True)
        row(_("Address"), street, line=True)
        row(_("Postcode and town"), " ".join(p for p in (member.postcode, member.city) if p), line=True)
        row(_("Country"), member.get_country_display() if member.country else "", line=True)
        row(_("Account number (IBAN)"), format_iban(account.iban) if account else "", line=True)
        row(_("Bank identifier (BIC)"), account.bic if account else "", line=True)
        row(_("Member number"), member.member_number)
        y -= 4 * mm
        row(_("Place"), "", line=True)
        row(_("Date"), "", line=True)
        y -= 6 * mm
        row(_("Signature"), "", line=True)
        canvas.showPage()
        canvas.save()
        return buffer.getvalue()
