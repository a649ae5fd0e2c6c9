"""Name keys and identities for the persons registered before identity resolution existed."""

from typing import Any

from django.db import migrations, models


def fill(apps: Any, schema_editor: Any) -> None:
    from haven.names import name_forms  # pure Python, no models: safe in a migration

    person_model = apps.get_model("registry", "Person")
    batch = []
    for person in person_model.objects.only(
        "id", "uuid", "given_name", "family_name", "patronymic"
    ).iterator(chunk_size=5000):
        person.identity = person.uuid
        person.given_key = name_forms(person.given_name, "given").key
        person.family_key = name_forms(person.family_name, "family").key
        person.patronymic_key = name_forms(person.patronymic, "patronymic").key
        batch.append(person)
        if len(batch) >= 5000:
            person_model.objects.bulk_update(
                batch, ["identity", "given_key", "family_key", "patronymic_key"]
            )
            batch = []
    if batch:
        person_model.objects.bulk_update(
            batch, ["identity", "given_key", "family_key", "patronymic_key"]
        )


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="person",
            name="given_key",
            field=models.CharField(default="", editable=False, max_length=100),
        ),
        migrations.AddField(
            model_name="person",
            name="family_key",
            field=models.CharField(default="", editable=False, max_length=100),
        ),
        migrations.AddField(
            model_name="person",
            name="patronymic_key",
            field=models.CharField(default="", editable=False, max_length=100),
        ),
        migrations.AddField(
            model_name="person",
            name="identity",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="person",
            name="identity",
            field=models.UUIDField(editable=False),
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(fields=["family_key", "given_key"], name="person_name_keys"),
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(fields=["given_key", "birth_year"], name="person_given_year"),
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(fields=["family_key", "birth_year"], name="person_family_year"),
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(fields=["identity"], name="person_identity"),
        ),
    ]
