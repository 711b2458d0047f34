from cryptography.hazmat.primitives import serialization
from django.core.management.base import BaseCommand
from py_vapid import Vapid, b64urlencode


class Command(BaseCommand):
    help = (
        "Print a new VAPID key pair for Web Push as .env lines (VAPID_PRIVATE_KEY, "
        "VAPID_PUBLIC_KEY). Keep the pair: browsers subscribed with one public key cannot be "
        "pushed to with another."
    )

    def handle(self, *args, **options) -> None:
        vapid = Vapid()
        vapid.generate_keys()
        private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
        public = vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.stdout.write(f"VAPID_PRIVATE_KEY={b64urlencode(private)}")
        self.stdout.write(f"VAPID_PUBLIC_KEY={b64urlencode(public)}")
