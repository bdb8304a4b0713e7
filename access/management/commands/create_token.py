import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from access.models import ApiToken, OrgUnit, Person
from access.selectors import person_by_handle
from access.services import token_create


class Command(BaseCommand):
    help = "Issue an API token for a person or an org unit and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="What will use the token, e.g. 'training CI'.")
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--person", help="Username or external id of the owning person.")
        owner.add_argument("--unit", help="UUID or exact name of the owning org unit.")
        parser.add_argument("--scope", choices=ApiToken.Scope.values, default=ApiToken.Scope.READ)
        parser.add_argument("--days", type=int, default=None, help="Days until the token expires.")

    def handle(self, *args: Any, **options: Any) -> None:
        owner_person = self._person(options["person"]) if options["person"] else None
        owner_unit = self._unit(options["unit"]) if options["unit"] else None
        try:
            issued = token_create(
                name=options["name"],
                scope=options["scope"],
                owner_person=owner_person,
                owner_unit=owner_unit,
                expires_in_days=options["days"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(f"Token '{issued.token.name}' expires {issued.token.expires_at:%Y-%m-%d %H:%M} UTC.")
        self.stdout.write("Store it now; it is not shown again:")
        self.stdout.write(issued.plaintext)

    def _person(self, key: str) -> Person:
        person = person_by_handle(key)
        if person is None:
            raise CommandError(f"No person with username or external id {key!r}.")
        return person

    def _unit(self, key: str) -> OrgUnit:
        try:
            return OrgUnit.objects.get(pk=uuid.UUID(key))
        except (ValueError, OrgUnit.DoesNotExist):
            units = list(OrgUnit.objects.filter(name=key)[:2])
        if len(units) != 1:
            raise CommandError(f"No single org unit is called {key!r}; pass its UUID.")
        return units[0]
