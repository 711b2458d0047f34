"""The PostgreSQL backend the service runs on: Django's, with a cheaper health check."""
