from django.db import migrations
from django.db.models import Exists, OuterRef


def mark_users_with_active_webhooks(apps, schema_editor) -> None:
    """Users who had an active webhook before the flag existed get it set."""
    User = apps.get_model("accounts", "User")
    Webhook = apps.get_model("notifications", "Webhook")
    active = Webhook.objects.filter(user_id=OuterRef("pk"), active=True)
    User.objects.filter(Exists(active)).update(has_active_webhooks=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_user_has_active_webhooks"),
        ("notifications", "0002_webhooks"),
    ]

    operations = [
        migrations.RunPython(mark_users_with_active_webhooks, migrations.RunPython.noop),
    ]
