"""Test data built through the real services, so tests exercise the same paths as users."""

import hashlib
import itertools
from typing import Any

from access.grants import grant_create
from access.models import Grant, OrgUnit, Person
from access.services import org_unit_create, person_create, token_create
from catalog.models import Dataset, DatasetVersion
from catalog.services import LocationSpec, dataset_create, dataset_version_create

_counter = itertools.count(1)


def make_unit(name: str | None = None, parent: OrgUnit | None = None) -> OrgUnit:
    return org_unit_create(name=name or f"Unit {next(_counter)}", parent=parent)


def make_person(
    username: str | None = None,
    *,
    unit: OrgUnit | None = None,
    staff: bool = False,
    password: str = "correct-horse-battery",
    **kwargs: Any,
) -> Person:
    number = next(_counter)
    username = username or f"person{number}"
    return person_create(
        username=username,
        external_id=kwargs.pop("external_id", f"E{number:05d}"),
        display_name=kwargs.pop("display_name", username.title()),
        email=f"{username}@example.com",
        primary_unit=unit,
        password=password,
        is_staff=staff,
        **kwargs,
    )


def make_dataset(owner: Person, *, slug: str | None = None, unit: OrgUnit | None = None, **kwargs: Any) -> Dataset:
    number = next(_counter)
    return dataset_create(
        actor=owner,
        slug=slug or f"dataset-{number}",
        name=kwargs.pop("name", f"Dataset {number}"),
        purpose=kwargs.pop("purpose", "Training the street-sign detector for the EU fleet."),
        owner=owner,
        owning_unit=unit or owner.primary_unit or make_unit(),
        locations=kwargs.pop("locations", [LocationSpec(uri=f"s3://kura-test/dataset-{number}/")]),
        **kwargs,
    )


def manifest(count: int, prefix: str = "images") -> list[dict[str, Any]]:
    return [
        {
            "path": f"{prefix}/{index:05d}.jpg",
            "size": 1000 + index,
            "hash": hashlib.sha256(f"{prefix}{index}".encode()).hexdigest(),
        }
        for index in range(count)
    ]


def make_version(dataset: Dataset, label: str = "v1", files: int = 3, **kwargs: Any) -> DatasetVersion:
    return dataset_version_create(dataset=dataset, actor=dataset.owner, label=label, files=manifest(files), **kwargs)


def bearer(person: Person | None = None, *, unit: OrgUnit | None = None, scope: str = "read") -> str:
    issued = token_create(name="test", scope=scope, owner_person=person, owner_unit=unit)
    return f"Bearer {issued.plaintext}"


def grant(dataset: Dataset, grantee: Person | OrgUnit, level: int, **kwargs: Any) -> Grant:
    person = grantee if isinstance(grantee, Person) else None
    unit = grantee if isinstance(grantee, OrgUnit) else None
    return grant_create(target=dataset, level=level, basis=kwargs.pop("basis", Grant.Basis.MANUAL),
                        granted_by=dataset.owner, grantee_person=person, grantee_unit=unit, **kwargs)
