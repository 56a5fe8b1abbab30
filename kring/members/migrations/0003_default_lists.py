"""The lists every Dutch or Belgian association starts with; the association edits them later."""

from django.db import migrations

MEMBER_TYPES = [
    # code, name, has_vote, pays_dues, is_honorary
    ("lid", "Lid", True, True, False),
    ("jeugdlid", "Jeugdlid", False, True, False),
    ("donateur", "Donateur", False, True, False),
    ("erelid", "Erelid", True, False, True),
    ("lid-van-verdienste", "Lid van verdienste", True, False, True),
]

CANCELLATION_REASONS = [
    ("verhuisd", "Verhuisd"),
    ("financieel", "Financiële redenen"),
    ("geen-tijd", "Geen tijd meer"),
    ("ontevreden", "Ontevreden over de vereniging"),
    ("andere-vereniging", "Naar een andere vereniging"),
    ("gestopt-met-beroep", "Gestopt met werken of het beroep"),
    ("overleden", "Overleden"),
    ("wanbetaling", "Royement wegens wanbetaling"),
    ("anders", "Andere reden"),
]


def create_lists(apps, schema_editor):
    MemberType = apps.get_model("members", "MemberType")
    CancellationReason = apps.get_model("members", "CancellationReason")
    for order, (code, name, has_vote, pays_dues, is_honorary) in enumerate(MEMBER_TYPES):
        MemberType.objects.get_or_create(code=code, defaults={
            "name": name, "has_vote": has_vote, "pays_dues": pays_dues, "is_honorary": is_honorary,
            "sort_order": order,
        })
    for order, (code, label) in enumerate(CANCELLATION_REASONS):
        CancellationReason.objects.get_or_create(code=code, defaults={"label": label, "sort_order": order})


class Migration(migrations.Migration):
    dependencies = [("members", "0002_search_trigram_index")]

    operations = [migrations.RunPython(create_lists, migrations.RunPython.noop)]
