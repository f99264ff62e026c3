# The lapse job's pass over every contact (contacts.lapse) gathers the ids of the contacts
# whose state moved. PostgreSQL shares such a pass among parallel workers only when each
# of its aggregates can combine the workers' parts, which array_agg can't before
# PostgreSQL 16: this one can. On SQLite the job uses group_concat.

from django.db import migrations

CREATE = """
    CREATE AGGREGATE contact_ids (bigint) (
        SFUNC = array_append, STYPE = bigint[], COMBINEFUNC = array_cat, PARALLEL = SAFE
    )
"""
DROP = "DROP AGGREGATE contact_ids (bigint)"


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("contacts", "0010_open_lapse_on_the_contact")]

    operations = [migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP))]
