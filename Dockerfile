# syntax=docker/dockerfile:1
# Two stages: wheels are built with compilers in "build"; the final image gets only the
# installed packages and the code, runs as an unprivileged user, and serves with gunicorn.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# Compilers for any dependency without a wheel; this stage is thrown away, so the exact
# Debian revision does not matter (and pinning it would break with every point release).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt


FROM python:3.11-slim-bookworm AS runtime
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GUNICORN_BIND=0.0.0.0:8000
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Root owns the code; the app user can read it but not change it.
COPY . .
# Static files (admin, API docs) are collected at build time and served by WhiteNoise.
# The throwaway secrets only let settings load; they are not in the final environment.
RUN DEBUG=false SECRET_KEY=collectstatic-only BETTER_AUTH_SECRET=collectstatic-only \
    python manage.py collectstatic --noinput --verbosity 0
# Numeric, so Kubernetes runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
# Probes use the first ALLOWED_HOSTS name as Host, so Django's host check accepts them.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; host = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.').replace('*', 'localhost') or 'localhost'; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8000/healthz', headers={'Host': host}), timeout=4)"]
CMD ["gunicorn", "--config", "config/gunicorn.conf.py", "config.wsgi"]
