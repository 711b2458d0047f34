# Loaded with Django, so that `@shared_task`s bind to this app wherever they are sent from.
from config.celery import app as celery_app

__all__ = ["celery_app"]
