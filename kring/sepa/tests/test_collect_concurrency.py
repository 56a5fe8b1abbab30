"""Two collection runs at once on PostgreSQL put no invoice in two batches."""

import threading

import pytest
from django.db import connection, connections
from freezegun import freeze_time

from kring.members.tests.factories import ensure_default_lists
from kring.sepa import services
from kring.sepa.collection import collect
from kring.sepa.models import CollectionBatch, CollectionItem
from kring.sepa.tests.collect_helpers import (
    ANNOUNCE_AT,
    COLLECT_AT,
    COLLECTION_DATE,
    IBAN_ING,
    IBAN_RABO,
    creditor,
    debtor,
    invoice_for,
)


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_never_collect_an_invoice_twice():
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED need PostgreSQL")
    ensure_default_lists()
    creditor()
    invoices = []
    for number in range(30):
        member, _mandate = debtor(iban=IBAN_RABO if number % 2 else IBAN_ING)
        invoices.append(invoice_for(member))
    with freeze_time(ANNOUNCE_AT):
        services.announce_collection(COLLECTION_DATE, actor=None)

    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(collect(COLLECTION_DATE, actor=None))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    with freeze_time(COLLECT_AT):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors
    items = list(CollectionItem.objects.values_list("invoice_id", flat=True))
    assert len(items) == len(set(items)) == len(invoices)
    assert sum(r.count for r in results) == len(invoices)
    assert CollectionBatch.objects.count() == sum(1 for r in results if r.batch)
