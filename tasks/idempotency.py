"""`Idempotency-Key` on POST: a retried create replays the first response, byte for byte (so
its ETag is the first answer's).

Records live in the database, not in Redis: a unique (user, key) row is inserted in the same
transaction as the task it guards, so two concurrent requests with one key create exactly one
task (the second waits for the first's commit, then replays it), and a Redis outage cannot
turn a retry into a duplicate. Only successful creates are recorded: a rejected request rolls
its record back, so the client can fix the body and retry with the same key.
"""

import hashlib
import json
import re
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from tasks import caching
from tasks.models import IdempotencyRecord

KEY_LIFETIME = timedelta(hours=24)
SANE_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class KeyReusedWithAnotherBody(APIException):
    status_code = 422
    default_detail = "This Idempotency-Key was already used with a different request body."
    default_code = "idempotency_key_reused"


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not SANE_KEY.fullmatch(key):
        message = "Must be 1 to 255 visible ASCII characters."
        raise ValidationError({"Idempotency-Key": [message]})
    return key


def fingerprint(request: Request) -> str:
    canonical = json.dumps(request.data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(request: Request, key: str) -> tuple[IdempotencyRecord, bool]:
    """The record for this key, and whether it is a replay. Call inside a transaction.

    A new key inserts its record (blocking while a concurrent request holding the same key
    is still in flight); a known key with the same body is a replay; with another body, 422.
    """
    owner = request.user
    # Expired keys of this user go now, so the table holds at most a day of each user's keys.
    IdempotencyRecord.objects.filter(
        user=owner, created_at__lt=timezone.now() - KEY_LIFETIME
    ).delete()
    body_fingerprint = fingerprint(request)
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=owner, key=key, request_fingerprint=body_fingerprint
            )
        return record, False
    except IntegrityError:
        record = IdempotencyRecord.objects.get(user=owner, key=key)
    if record.request_fingerprint != body_fingerprint:
        raise KeyReusedWithAnotherBody()
    return record, True


def remember(record: IdempotencyRecord, response: Response) -> None:
    """Keep the first answer to this key: its exact bytes, status and `Location`."""
    record.response_body = caching.render(response.data).decode()
    record.response_status = response.status_code
    record.response_location = response.get("Location", "")
    record.save(update_fields=["response_body", "response_status", "response_location"])


def replay(record: IdempotencyRecord, replayed: bool) -> Response:
    headers = {"Location": record.response_location}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return caching.prerendered(record.response_body.encode(), record.response_status, headers)
