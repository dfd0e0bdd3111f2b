import datetime

from django.db import migrations

# The providers' published consumer fees the product starts from; finance edits them in the admin.
DEFAULTS = [
    ("gcash", "PHP", 350, 1000, "GCash 3.5% + PHP 10"),
    ("maya", "PHP", 250, 1500, "Maya 2.5% + PHP 15"),
    ("cash", "PHP", 0, 0, "Cash: no fee"),
    ("cash", "MYR", 0, 0, "Cash: no fee"),
]


def create_defaults(apps, schema_editor):
    FeeRule = apps.get_model("payments", "FeeRule")
    for method_type, currency, basis_points, fixed_minor, note in DEFAULTS:
        FeeRule.objects.get_or_create(
            method_type=method_type,
            currency=currency,
            effective_from=datetime.date(2020, 1, 1),
            defaults={"percent_basis_points": basis_points, "fixed_minor": fixed_minor, "note": note},
        )


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
