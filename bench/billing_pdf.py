"""Benchmark of the invoice PDFs (kring.billing.pdf): PDFs per second beside a floor.

    DATABASE_URL=sqlite:////tmp/pdf.sqlite3 .venv/bin/python -m bench.billing_pdf --count 1000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kring_bench_pdf .venv/bin/python -m bench.billing_pdf

On a migrated database it creates `count` dues invoices (two lines, paid by transfer, so each
has the EPC QR code) and times:

- one by one: each invoice its own PDF, as the invoice emails make them, loaded in chunks of
  200 with ``queries.invoices_for_pdf_by_ids`` (database reads included);
- one batch: all invoices in one PDF (``render_invoices_pdf``, the paper print batch);
- the floor: reportlab alone drawing, for each invoice, a page with the same text items (the
  same strings, fonts and places, recorded from one of our pages), the same QR rectangles and
  rules, compressed the same way: no queries, no formatting, no layout decisions.

Everything runs in one transaction that is rolled back, so the database is left as it was.
``run(count)`` returns the figures; bench/__main__.py puts them in `make bench`'s table.
"""

import argparse
import io
import json
import os
import time
from datetime import date, timedelta
from decimal import Decimal

CHUNK = 200


class _Rollback(Exception):
    pass


def _make_invoices(count: int) -> list[int]:
    """`count` open dues invoices with two lines each, for up to 500 members (set-based)."""
    from kring.billing.models import BillingSettings, Invoice, InvoiceLine
    from kring.billing.services import LineInput, member_address
    from kring.core.models import Association
    from kring.members.models import Member, MemberType

    association = Association.current()
    association.name = "Vereniging De Kring"
    association.street, association.house_number = "Stationsweg", "12"
    association.postcode, association.city = "3511 AA", "Utrecht"
    association.kvk_number, association.email = "40123456", "penningmeester@dekring.nl"
    association.save()
    billing_settings = BillingSettings.current()
    billing_settings.iban, billing_settings.bic = "NL91ABNA0417164300", "ABNANL2A"
    billing_settings.save()

    member_type = MemberType.objects.get_or_create(code="lid", defaults={"name": "Lid"})[0]
    members = []
    for n in range(min(count, 500)):
        member = Member(
            member_number=f"B{n:07d}",
            member_type=member_type,
            first_name="Anna",
            name_prefix="van den",
            last_name=f"Berg {n}",
            email=f"lid{n}@example.test",
            street="Dorpsstraat",
            house_number=n + 1,
            postcode="1234 AB",
            city="Utrecht",
        )
        member.refresh_derived_fields()
        members.append(member)
    members = Member.objects.bulk_create(members)

    year = 2027
    start = (
        Invoice.objects.filter(year=year).order_by("-sequence").values_list("sequence", flat=True).first()
    ) or 0
    specs = [
        LineInput("Contributie Gewoon lid, 1 januari 2027 – 31 maart 2027", Decimal("37.50")),
        LineInput("Clubblad op papier", Decimal("6.05"), vat_rate=Decimal("21")),
    ]
    invoices, lines = [], []
    for n in range(count):
        built = [spec.build(position) for position, spec in enumerate(specs, start=1)]
        excl = sum((line.amount_excl_vat for line in built), Decimal("0.00"))
        vat = sum((line.vat_amount for line in built), Decimal("0.00"))
        member = members[n % len(members)]
        sequence = start + n + 1
        invoices.append(
            Invoice(
                number=f"{year}-{sequence:06d}",
                year=year,
                sequence=sequence,
                invoice_date=date(year, 1, 1),
                due_date=date(year, 1, 1) + timedelta(days=14),
                member=member,
                payer_member=member,
                recipient_name=member.display_name,
                recipient_address=member_address(member),
                recipient_email=member.email,
                period_start=date(year, 1, 1),
                period_end=date(year, 3, 31),
                total_excl_vat=excl,
                vat_amount=vat,
                total=excl + vat,
            )
        )
        lines.append(built)
    invoices = Invoice.objects.bulk_create(invoices, batch_size=500)
    for invoice, built in zip(invoices, lines, strict=True):
        for line in built:
            line.invoice = invoice
    InvoiceLine.objects.bulk_create([line for built in lines for line in built], batch_size=1000)
    return [invoice.pk for invoice in invoices]


def _record_page(invoice, sender):
    """The drawing operations of one of our invoice pages: strings with font and place, rectangles, lines."""
    from reportlab.pdfgen.canvas import Canvas

    from kring.billing.pdf import _InvoicePages

    class Recording(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.texts, self.literals, self.rects, self.lines = [], [], 0, 0

        def drawString(self, x, y, text, *args, **kwargs):
            self.texts.append((self._fontname, self._fontsize, x, y, text))
            return super().drawString(x, y, text, *args, **kwargs)

        def drawRightString(self, x, y, text, *args, **kwargs):
            self.texts.append((self._fontname, self._fontsize, x - self.stringWidth(text), y, text))
            return super().drawRightString(x, y, text, *args, **kwargs)

        def drawCentredString(self, x, y, text, *args, **kwargs):
            self.texts.append((self._fontname, self._fontsize, x - self.stringWidth(text) / 2, y, text))
            return super().drawCentredString(x, y, text, *args, **kwargs)

        def addLiteral(self, text, *args, **kwargs):  # the QR code's modules
            self.literals.append(text)
            self.rects += text.count(" re")
            return super().addLiteral(text, *args, **kwargs)

        def line(self, *args, **kwargs):
            self.lines += 1
            return super().line(*args, **kwargs)

    canvas = Recording(io.BytesIO(), pageCompression=1)
    pages = _InvoicePages(canvas, invoice, sender).draw()
    assert pages == 1, "the benchmark invoice should fit one page"
    return canvas.texts, canvas.literals, canvas.rects, canvas.lines


def _floor_pdf(texts, literals, lines: int) -> bytes:
    """What reportlab alone needs for the same page: the same strings, QR rectangles and as many rules."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    for font, size, x, y, text in texts:
        canvas.setFont(font, size)
        canvas.drawString(x, y, text)
    for literal in literals:
        canvas.saveState()
        canvas.transform(2, 0, 0, -2, 420, 200)
        canvas.addLiteral(literal)
        canvas.restoreState()
    for n in range(lines):
        canvas.line(50, 300 + n, 540, 300 + n)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def run(count: int = 1000) -> dict:
    """PDFs per second one by one (with the queries), in one batch, and the floor; sizes in bytes."""
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import translation

    from kring.billing import queries
    from kring.billing.epc_qr import epc_payload, make_qr
    from kring.billing.pdf import Sender, render_invoice_pdf, render_invoices_pdf

    result: dict = {"vendor": connection.vendor, "count": count}
    try:
        with transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
            started = time.perf_counter()
            ids = _make_invoices(count)
            result["setup_seconds"] = time.perf_counter() - started

            started, cpu = time.perf_counter(), time.process_time()
            sender = Sender.load()
            total_bytes = 0
            for start in range(0, len(ids), CHUNK):
                for invoice in queries.invoices_for_pdf_by_ids(ids[start : start + CHUNK]):
                    total_bytes += len(render_invoice_pdf(invoice, sender=sender))
            single, single_cpu = time.perf_counter() - started, time.process_time() - cpu

            started = time.perf_counter()
            batch = render_invoices_pdf(queries.invoices_for_pdf_by_ids(ids))
            batch_seconds = time.perf_counter() - started

            sample = queries.invoice_for_pdf(ids[0])
            texts, literals, rects, lines = _record_page(sample, sender)
            started, cpu = time.perf_counter(), time.process_time()
            floor_bytes = 0
            for _n in range(count):
                floor_bytes += len(_floor_pdf(texts, literals, lines))
            floor, floor_cpu = time.perf_counter() - started, time.process_time() - cpu

            # Of our time, how much is encoding the QR codes (segno: data, error correction, best mask).
            payloads = [
                epc_payload(invoice, billing_settings=sender.billing_settings)
                for invoice in queries.invoices_for_pdf_by_ids(ids[:CHUNK])
            ]
            started = time.perf_counter()
            for payload in payloads:
                make_qr(payload)
            qr_ms = 1000 * (time.perf_counter() - started) / len(payloads)
            raise _Rollback
    except _Rollback:
        pass
    result.update(
        {
            "single_seconds": single,
            "single_cpu_seconds": single_cpu,
            "single_per_second": count / single,
            "single_ms": 1000 * single / count,
            "single_bytes": total_bytes // count,
            "batch_seconds": batch_seconds,
            "batch_per_second": count / batch_seconds,
            "batch_bytes": len(batch),
            "floor_seconds": floor,
            "floor_cpu_seconds": floor_cpu,
            "floor_per_second": count / floor,
            "floor_ms": 1000 * floor / count,
            "floor_bytes": floor_bytes // count,
            "qr_encoding_ms": qr_ms,
            "text_items": len(texts),
            "qr_rectangles": rects,
            "rules": lines,
        }
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.billing_pdf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="invoices to render (default 1,000)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kring.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(json.dumps(run(args.count), indent=2))


if __name__ == "__main__":
    main()
