"""The Celery app: worker and beat processes (`celery -A config worker`, `celery -A config
beat`) run the background tasks of every app (`<app>/tasks.py`), configured by the `CELERY_*`
settings in config/settings.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("todo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
