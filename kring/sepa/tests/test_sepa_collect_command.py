"""python manage.py sepa_collect: the file, the counts and the uncollectable list."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from freezegun import freeze_time

from kring.sepa import pain008, services
from kring.sepa.tests.collect_helpers import (
    ANNOUNCE_AT,
    COLLECT_AT,
    COLLECTION_DATE,
    IBAN_ING,
    creditor,
    debtor,
    invoice_for,
)

pytestmark = pytest.mark.django_db


def test_command_writes_file_and_lists_uncollectable(tmp_path):
    creditor()
    member, _mandate = debtor()
    invoice = invoice_for(member)
    with freeze_time(ANNOUNCE_AT):
        services.announce_collection(COLLECTION_DATE, actor=None)
    late_member, _m = debtor(iban=IBAN_ING)
    late = invoice_for(late_member)
    out = tmp_path / "debits.xml"
    stdout = StringIO()
    with freeze_time(COLLECT_AT):
        call_command(
            "sepa_collect",
            "--collection-date",
            "2027-01-25",
            "--out",
            str(out),
            "--version",
            "pain.008.001.02",
            stdout=stdout,
        )
    text = stdout.getvalue()
    assert "1 " in text and "12.50" in text and str(out) in text
    assert late.number in text and invoice.number not in text.split("\n", 1)[1]
    xml = out.read_bytes()
    assert pain008.validate(xml, pain008.PAIN_008_02) == []
    assert invoice.number.encode() in xml


def test_command_refuses_bad_date(tmp_path):
    creditor()
    with freeze_time(COLLECT_AT), pytest.raises(CommandError):
        call_command("sepa_collect", "--collection-date", "2027-01-23", "--out", str(tmp_path / "x.xml"))
