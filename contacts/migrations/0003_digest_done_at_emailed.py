from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0002_lead_days_daily_digest_needs_owner_pace"),
    ]

    operations = [
        migrations.RenameField(model_name="digestlog", old_name="sent_at", new_name="done_at"),
        migrations.AddField(
            model_name="digestlog",
            name="emailed",
            field=models.BooleanField(
                default=True,
                help_text="False when there was nothing to tell: no email that period.",
            ),
        ),
    ]
