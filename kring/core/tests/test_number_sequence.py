import threading

import pytest
from django.db import close_old_connections, connection

from kring.core.models import Association, NumberSequence


@pytest.mark.django_db
def test_reserve_gives_consecutive_numbers():
    assert list(NumberSequence.reserve("x", 3)) == [1, 2, 3]
    assert list(NumberSequence.reserve("x", 2)) == [4, 5]


@pytest.mark.django_db
def test_ensure_at_least_moves_past_imported_numbers_only_forward():
    NumberSequence.reserve("x", 5)
    NumberSequence.ensure_at_least("x", 100)
    NumberSequence.ensure_at_least("x", 50)
    assert list(NumberSequence.reserve("x", 1)) == [101]


@pytest.mark.django_db
def test_member_number_format_follows_association_settings():
    association = Association.current()
    association.member_number_prefix, association.member_number_digits = "L", 5
    assert association.format_member_number(42) == "L00042"


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_share_a_number():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the row lock matters on PostgreSQL")
    results, errors = [], []

    def take():
        try:
            for _ in range(20):
                results.extend(NumberSequence.reserve("concurrent", 1))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results) == list(range(1, 81))
