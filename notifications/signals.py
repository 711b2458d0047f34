"""What a firing reminder tells the channels that deliver it (live streams, Web Push, webhooks).

`reminder_fired` is sent inside the transaction that claims the reminder, with `user_id: str`
and `payload: dict` (the `{"type": "reminder", "task": …, "fire_at": …}` object, as JSON-ready
data). A receiver queues its deliveries in that same transaction, so a claim and everything it
must deliver commit together or not at all, and sends them after the commit; nothing a
receiver does may reach the outside world before then.
"""

from django.dispatch import Signal

reminder_fired = Signal()
