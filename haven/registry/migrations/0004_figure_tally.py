"""The running counts of the situation figures (registry.FigureTally), counted here for everything
registered before (haven.registry.tallies.rebuild); an index of the persons by date of birth, and
the identity index made to hold what the figures read."""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models


def count(apps: Any, schema_editor: Any) -> None:
    # The tally's own counting, so that the migration and the registration actions count alike;
    # it reads only columns that exist from this migration on.
    from haven.registry import tallies

    tallies.rebuild()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("registry", "0003_figures_member_count_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="FigureTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("hour", "hour"),
                            ("origin", "origin"),
                            ("people", "people"),
                            ("needs", "needs"),
                        ],
                        max_length=8,
                    ),
                ),
                ("hour", models.BigIntegerField(default=0)),
                ("sex", models.CharField(blank=True, default="", max_length=1)),
                ("birth_year", models.PositiveSmallIntegerField(default=0)),
                ("text", models.TextField(blank=True, default="")),
                ("households", models.BigIntegerField(default=0)),
                ("persons", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RemoveIndex(
            model_name="person",
            name="person_identity",
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(
                fields=[
                    "identity",
                    "household",
                    "site",
                    "sex",
                    "birth_year",
                    "birth_month",
                    "birth_day",
                    "specific_needs",
                ],
                name="person_identity_figures",
            ),
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(
                fields=["birth_year", "birth_month", "birth_day", "site", "sex"],
                name="person_birth",
            ),
        ),
        migrations.AddField(
            model_name="figuretally",
            name="site",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="core.site"
            ),
        ),
        migrations.AddConstraint(
            model_name="figuretally",
            constraint=models.UniqueConstraint(
                fields=("kind", "site", "hour", "sex", "birth_year", "text"),
                name="figure_tally_key",
            ),
        ),
        migrations.RunPython(count, migrations.RunPython.noop, elidable=True),
    ]
