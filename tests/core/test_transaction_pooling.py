"""Behind a transaction-mode pooler, queries must not rely on per-connection server state.

Runs in .ci/pgbouncer.sh (DATABASE_POOL_MODE=transaction through a local PgBouncer). There,
consecutive statements may run on different server connections, so a server-side cursor
opened by one statement is gone for the next unless server-side cursors are off.
(Prepared statements would break the same way; Django binds parameters on the client by
default, so none are made, and the setting also turns psycopg's off in case that changes.)
"""

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tasks.models import Task
from tests.factories import TaskFactory

requires_transaction_pooling = pytest.mark.skipif(
    settings.DATABASE_POOL_MODE != "transaction" or connection.vendor != "postgresql",
    reason="runs through PgBouncer in transaction mode: .ci/pgbouncer.sh",
)


@requires_transaction_pooling
@pytest.mark.django_db(transaction=True)
def test_iterating_survives_a_change_of_server_connection(user):
    TaskFactory.create_batch(5, user=user)
    params = connection.settings_dict
    with psycopg.connect(
        dbname=params["NAME"], user=params["USER"], host=params["HOST"], port=params["PORT"]
    ) as other_client:
        tasks = Task.objects.filter(user=user).iterator(chunk_size=2)
        first = next(tasks)
        # Another client starts a transaction on the server connection the app just used,
        # so the app's next fetch runs on a different one.
        other_client.execute("SELECT 1")
        rest = list(tasks)

    assert len([first, *rest]) == 5
