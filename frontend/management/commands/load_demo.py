import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from access.models import ApiToken
from access.services import token_create, token_revoke
from catalog.tasks import verify_all_locations
from frontend.demo import DEMO_CONNECTION, load_demo
from storage.models import StorageConnection
from storage.scanning import scan_start

DEMO_TOKEN_NAME = "demo CLI"  # noqa: S105 - a label, not a secret


class Command(BaseCommand):
    help = "Load the demo org chart and datasets (idempotent) and print fresh demo credentials."

    def handle(self, *args: Any, **options: Any) -> None:
        demo = load_demo(settings.DATA_DIR)
        # A new password and token every run: nothing secret has to be kept in the repository.
        password = f"kura-{secrets.token_urlsafe(9)}"
        demo.user.set_password(password)
        demo.user.save(update_fields=["password"])
        for old in ApiToken.objects.filter(owner_person=demo, name=DEMO_TOKEN_NAME, revoked_at__isnull=True):
            token_revoke(token=old)
        issued = token_create(name=DEMO_TOKEN_NAME, scope=ApiToken.Scope.READ_WRITE, owner_person=demo)
        try:
            verify_all_locations.delay()  # the worker checks the demo bucket as soon as it starts
            connection = StorageConnection.objects.filter(name=DEMO_CONNECTION).first()
            if connection is not None:  # and scans it, so its unregistered folders appear as findings
                with transaction.atomic():
                    scan_start(connection=connection, trigger="demo", requested_by=demo)
        except Exception as error:  # no broker yet (e.g. run outside `make run`): beat will do it later
            self.stderr.write(f"Could not queue the first storage check ({error}); the scheduler will run it.")
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(f"  Sign in:   {settings.KURA_BASE_URL}/  user 'demo'  password '{password}'")
        self.stdout.write(f"  API token: {issued.plaintext}")
        self.stdout.write(
            f"  Try:       curl -H 'Authorization: Bearer {issued.plaintext}' "
            f"{settings.KURA_BASE_URL}/api/v1/datasets/street-signs-eu/versions/latest/"
        )
