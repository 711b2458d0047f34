from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Registers the deploy check on the mailed links' pages.
        from accounts import emails  # noqa: F401
