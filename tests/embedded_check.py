"""Run by ``test_embedded_stack``: the embedded stack's database (SQLite), migrated and loaded with the demo,
answering the hottest pages through their hand-written statements. A separate process, because the test
suite's own database is PostgreSQL. Prints one JSON line of what it saw."""

import json
import os
import sys

import django


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "kura.settings.base"
    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from access.models import ApiToken, Person
    from access.services import token_create

    call_command("migrate", "--noinput", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)  # as `make run` does: pages name hashed files
    call_command("load_demo", stdout=open(os.devnull, "w"), stderr=open(os.devnull, "w"))  # noqa: SIM115
    demo = Person.objects.get(user__username="demo")
    token = token_create(name="embedded-check", scope=ApiToken.Scope.READ, owner_person=demo).plaintext
    client = Client(headers={"authorization": f"Bearer {token}", "accept": "application/json"})
    browser = Client()
    browser.force_login(demo.user)

    seen = {}
    for name, response in {
        "api_search": client.get("/api/v1/datasets/", {"search": "street"}),
        "api_list": client.get("/api/v1/datasets/"),
        "lookup": client.get("/api/v1/datasets/street-signs-eu/versions/latest/"),
        "page_search": browser.get("/", {"search": "street"}),
    }.items():
        body = response.content.decode()
        seen[name] = {
            "status": response.status_code,
            "body": json.loads(body) if response["Content-Type"].startswith("application/json") else body,
        }
    sys.stdout.write(json.dumps(seen) + "\n")


if __name__ == "__main__":
    main()
