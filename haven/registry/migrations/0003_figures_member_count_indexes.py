"""For the situation figures: each household's number of members, stored with it (and filled here
for the households registered before), and two indexes that hold every column the figures read,
so that they read neither the person rows nor the household rows."""

from typing import Any

from django.db import migrations, models
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce


def fill(apps: Any, schema_editor: Any) -> None:
    household_model = apps.get_model("registry", "Household")
    person_model = apps.get_model("registry", "Person")
    members = (
        person_model.objects.filter(household=OuterRef("pk"))
        .order_by()
        .values("household")
        .annotate(n=Count("*"))
        .values("n")
    )
    household_model.objects.update(member_count=Coalesce(Subquery(members), 0))


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_person_keys_identity")]

    operations = [
        migrations.AddField(
            model_name="household",
            name="member_count",
            field=models.PositiveIntegerField(db_default=0, editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="household",
            index=models.Index(
                fields=["registered_at", "site", "member_count", "origin_settlement"],
                name="household_figures",
            ),
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(
                fields=[
                    "household",
                    "site",
                    "sex",
                    "birth_year",
                    "birth_month",
                    "birth_day",
                    "specific_needs",
                ],
                name="person_figures",
            ),
        ),
    ]
