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
        "datasheet_search": client.get("/api/v1/datasets/", {"search": "licence plates blurred"}),
        "api_list": client.get("/api/v1/datasets/"),
        "lookup": client.get("/api/v1/datasets/street-signs-eu/versions/latest/"),
        "page_search": browser.get("/", {"search": "street"}),
    }.items():
        body = response.content.decode()
        seen[name] = {
            "status": response.status_code,
            "body": json.loads(body) if response["Content-Type"].startswith("application/json") else body,
        }
    seen["dvc_manifests"] = _dvc_manifests_saved_twice()
    sys.stdout.write(json.dumps(seen) + "\n")


def _dvc_manifests_saved_twice() -> dict[str, object]:
    """A scan saving the .dir manifests it read, some of them saved already by another scan (their rows stay and
    get no second set of members)."""
    from storage.dvc.layout import DirEntry
    from storage.dvc.remote_scan import _save_manifests
    from storage.models import DvcDirManifest, DvcDirMember, StorageConnection

    connection = StorageConnection.objects.create(name="embedded-dvc", kind=StorageConnection.Kind.LOCAL,
                                                  roots=["/remote"], is_dvc_remote=True)

    def read(md5: str) -> tuple[str, str, str, str, list[DirEntry]]:
        return md5, "dvc3", "/remote", "", [DirEntry(f"part-{index}.bin", f"{md5[:-1]}{index}") for index in range(2)]

    first = [read(f"{index:031x}a") for index in range(300)]  # more rows than one SQLite statement takes
    saved = [_save_manifests(connection, first[:150]), _save_manifests(connection, first)]
    return {"saved": saved, "manifests": DvcDirManifest.objects.filter(connection=connection).count(),
            "members": DvcDirMember.objects.filter(manifest__connection=connection).count()}


if __name__ == "__main__":
    main()
