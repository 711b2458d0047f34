"""Every write to a task bumps its owner's `tasks_version`, inside the database.

Cached task reads are keyed by that version (tasks/caching.py). Triggers make the bump part of
the very statement that writes the task, whatever issued it: the API, the admin, bulk
updates, COPY in `seed_demo`, or SQL typed into psql. On PostgreSQL the triggers run once
per statement (a bulk update of 500 tasks bumps each owner once); SQLite has only row
triggers.
"""

from django.db import migrations

POSTGRESQL_FUNCTION = """
CREATE FUNCTION tasks_bump_owner_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE accounts_user SET tasks_version = tasks_version + 1
        WHERE id IN (SELECT user_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE accounts_user SET tasks_version = tasks_version + 1
        WHERE id IN (SELECT user_id FROM old_rows);
    ELSE
        UPDATE accounts_user SET tasks_version = tasks_version + 1
        WHERE id IN (SELECT user_id FROM new_rows UNION SELECT user_id FROM old_rows);
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGERS = [
    "CREATE TRIGGER tasks_bump_on_insert AFTER INSERT ON tasks_task "
    "REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_bump_owner_versions()",
    "CREATE TRIGGER tasks_bump_on_update AFTER UPDATE ON tasks_task "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_bump_owner_versions()",
    "CREATE TRIGGER tasks_bump_on_delete AFTER DELETE ON tasks_task "
    "REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_bump_owner_versions()",
]
SQLITE_TRIGGERS = [
    "CREATE TRIGGER tasks_bump_on_insert AFTER INSERT ON tasks_task BEGIN "
    "UPDATE accounts_user SET tasks_version = tasks_version + 1 WHERE id = NEW.user_id; END",
    "CREATE TRIGGER tasks_bump_on_update AFTER UPDATE ON tasks_task BEGIN "
    "UPDATE accounts_user SET tasks_version = tasks_version + 1 "
    "WHERE id IN (NEW.user_id, OLD.user_id); END",
    "CREATE TRIGGER tasks_bump_on_delete AFTER DELETE ON tasks_task BEGIN "
    "UPDATE accounts_user SET tasks_version = tasks_version + 1 WHERE id = OLD.user_id; END",
]
TRIGGER_NAMES = ["tasks_bump_on_insert", "tasks_bump_on_update", "tasks_bump_on_delete"]


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        statements = [POSTGRESQL_FUNCTION, *POSTGRESQL_TRIGGERS]
    elif schema_editor.connection.vendor == "sqlite":
        statements = SQLITE_TRIGGERS
    else:
        raise NotImplementedError("Cache versions need triggers: PostgreSQL or SQLite only.")
    for statement in statements:
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    on_table = " ON tasks_task" if schema_editor.connection.vendor == "postgresql" else ""
    for name in TRIGGER_NAMES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{on_table}")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS tasks_bump_owner_versions()")


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0003_idempotency_record"),
        ("accounts", "0002_user_tasks_version"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
