#!/usr/bin/env bash
# Fuzzes every operation in the OpenAPI schema against a running gunicorn with schemathesis,
# as a real signed-in user. Fails on any 5xx and on any response (status, content type,
# headers, body) that the schema does not describe.
#
#   .ci/fuzz.sh
#
# Environment: FUZZ_PORT (8076), FUZZ_MAX_EXAMPLES (100 per operation), DATABASE_URL and
# REDIS_URL (default: a throwaway SQLite file and the in-process cache), PYTHON (.venv).
set -euo pipefail

cd "$(dirname "$0")/.."
PORT="${FUZZ_PORT:-8076}"
PYTHON="${PYTHON:-.venv/bin/python}"
BIN="$(dirname "$PYTHON")"
workdir="$(mktemp -d)"

export DEBUG=false
export SECRET_KEY="fuzz-only-$(head -c 48 /dev/urandom | base64 | tr -d '/+=')"
export BETTER_AUTH_SECRET="fuzz-only-$(head -c 32 /dev/urandom | base64 | tr -d '/+=')"
export ALLOWED_HOSTS=127.0.0.1 SECURE_SSL_REDIRECT=false LOG_LEVEL=WARNING
export DATABASE_URL="${DATABASE_URL:-sqlite:///$workdir/fuzz.sqlite3}"
export GUNICORN_BIND="127.0.0.1:$PORT" WEB_CONCURRENCY=2
# The live event stream (streamEvents) is left out: a valid request is an answer that never
# ends (until the token expires), which the fuzzer can only report as a read timeout; its
# error answers have tests of their own.
# Thousands of requests from one address and one user: with the limits on, most operations
# would only ever be fuzzed into a 429 (the limits have tests of their own).
export API_RATE_LIMIT=off AUTH_THROTTLE_RATE=off ADMIN_LOGIN_RATE=off
# Registration mails a verification link (into the server log here); so does password reset.
export EMAIL_BACKEND=console LOCAL_AUTH_VERIFY_EMAIL_URL=http://127.0.0.1/verify-email
export LOCAL_AUTH_PASSWORD_RESET_URL=http://127.0.0.1/reset-password
# Web Push on, as the password reset is: without a key its routes answer 503 by design.
VAPID_PRIVATE_KEY="$("$PYTHON" manage.py generate_vapid_keys | sed -n 's/^VAPID_PRIVATE_KEY=//p')"
export VAPID_PRIVATE_KEY VAPID_SUBJECT=mailto:fuzz@example.com

server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill -TERM -- "-$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

"$PYTHON" manage.py migrate --noinput --verbosity 0
# A real user, and a token for it signed the way Better Auth signs them.
read -r FUZZ_USER_ID FUZZ_TOKEN < <("$PYTHON" manage.py shell --no-imports -c "
import time, jwt
from django.conf import settings
from accounts.models import User
user, _ = User.objects.get_or_create(email='fuzz@example.com', defaults={'name': 'Fuzz'})
now = int(time.time())
token = jwt.encode({'sub': user.id, 'iat': now, 'exp': now + 3600}, settings.BETTER_AUTH_SECRET, algorithm='HS256')
print(user.id, token)
")
export FUZZ_USER_ID FUZZ_TOKEN

setsid "$BIN/gunicorn" --config config/gunicorn.conf.py config.wsgi >"$workdir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
    sleep 0.2
done

cat > "$workdir/schemathesis.toml" <<TOML
# Path parameters name the fuzz user, so requests reach the task code, not just the 403.
[parameters]
"path.user_id" = "\${FUZZ_USER_ID}"
TOML

status=0
"$BIN/schemathesis" --config-file "$workdir/schemathesis.toml" run \
    "http://127.0.0.1:$PORT/api/schema/" \
    --header "Authorization: Bearer $FUZZ_TOKEN" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "${FUZZ_MAX_EXAMPLES:-100}" \
    --request-timeout 10 \
    --seed "${FUZZ_SEED:-20261123}" \
    --generation-database none \
    --exclude-operation-id streamEvents \
    --no-color || status=$?
if [[ $status != 0 ]]; then
    echo "--- server log ---"
    tail -n 80 "$workdir/server.log"
fi
exit $status
