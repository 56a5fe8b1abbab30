from django.db import migrations

# The schedule most associations start with; the treasurer changes it in the back office.
DEFAULT_STEPS = [
    (1, 14, "remind", "Herinnering: factuur {number}"),
    (2, 28, "remind", "Tweede herinnering: factuur {number}"),
    (3, 42, "flag", ""),
]


def add_default_steps(apps, schema_editor):
    ReminderStep = apps.get_model("billing", "ReminderStep")
    if ReminderStep.objects.exists():
        return
    for level, days, action, subject in DEFAULT_STEPS:
        ReminderStep.objects.create(level=level, days_after_due=days, action=action, subject=subject)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(add_default_steps, migrations.RunPython.noop)]
