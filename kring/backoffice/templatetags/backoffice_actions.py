"""Template filters for the action buttons on the member page: which changes a membership allows."""

from django import template

from kring.backoffice.forms import status_choices_for
from kring.members.models import Membership

register = template.Library()


@register.filter
def can_become(membership: Membership, status: str) -> bool:
    """{% if membership|can_become:"cancelled" %}: Membership.TRANSITIONS decides."""
    return membership.can_become(status)


@register.filter
def has_status_changes(membership: Membership) -> bool:
    """Whether the 'change status' form has anything to offer for this membership."""
    return bool(status_choices_for(membership))
