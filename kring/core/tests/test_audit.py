import pytest
from django.core.exceptions import ValidationError

from kring.core.audit import log_action
from kring.core.models import AuditEntry
from kring.members.tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_log_action_records_who_what_and_changes():
    member = MemberFactory()
    user = UserFactory(full_name="Sanne Secretaris")
    entry = log_action(
        "kring.member.changed",
        actor=user,
        obj=member,
        member_id=member.pk,
        changes=[{"field": "city", "before": "Utrecht", "after": "Zeist"}],
    )
    entry.refresh_from_db()
    assert entry.actor_label == "Sanne Secretaris"
    assert (entry.object_type, entry.object_id) == ("member", str(member.pk))
    assert entry.changes == [{"field": "city", "before": "Utrecht", "after": "Zeist"}]


def test_audit_entries_cannot_be_changed_or_deleted():
    member = MemberFactory()
    entry = log_action("kring.member.changed", actor=None, obj=member, member_id=member.pk)
    entry.note = "rewritten"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk, note="").exists()


def test_system_changes_are_labelled_as_system():
    member = MemberFactory()
    entry = log_action("kring.member.changed", actor=None, obj=member)
    assert entry.actor is None and entry.actor_label == "systeem"
