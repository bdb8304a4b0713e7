"""Synthetic catalog rows, generated deterministically from a seed and shaped exactly like Kura's tables.

Rows are plain tuples in the column order of ``TABLES`` so they can be streamed straight into ``COPY``.
"""

import hashlib
import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from bench import words

Row = tuple[object, ...]

TABLES: dict[str, tuple[str, ...]] = {
    "access_orgunit": ("id", "name", "status", "created_at", "parent_id"),
    "auth_user": (
        "id",
        "password",
        "last_login",
        "is_superuser",
        "username",
        "first_name",
        "last_name",
        "email",
        "is_staff",
        "is_active",
        "date_joined",
    ),
    "access_person": (
        "id",
        "external_id",
        "display_name",
        "email",
        "status",
        "departed_at",
        "manager_id",
        "primary_unit_id",
        "user_id",
    ),
    "catalog_dataset": (
        "id",
        "slug",
        "name",
        "purpose",
        "description",
        "status",
        "deprecation_note",
        "deprecated_at",
        "sunset_at",
        "archived_at",
        "visibility",
        "classification",
        "training_repo_url",
        "training_repo_path",
        "created_at",
        "updated_at",
        "created_by_id",
        "owner_id",
        "owning_unit_id",
        "superseded_by_id",
    ),
    "catalog_dataset_stewards": ("id", "dataset_id", "person_id"),
    "catalog_storagelocation": (
        "id",
        "uri",
        "role",
        "note",
        "last_verified_at",
        "last_verification_ok",
        "last_verification_message",
        "dataset_id",
    ),
    "catalog_datasetversion": (
        "id",
        "label",
        "status",
        "digest",
        "total_bytes",
        "file_count",
        "source",
        "git_commit",
        "guideline_revision",
        "notes",
        "created_at",
        "published_at",
        "created_by_id",
        "dataset_id",
    ),
    "catalog_manifestfile": ("id", "path", "size", "hash", "version_id"),
}
BENCH_USERNAME = "bench-ci"  # person 1: an ordinary (non-staff) active person who owns a few datasets
USER_ID_OFFSET = 100  # migrate leaves guardian's AnonymousUser as auth_user 1
FILES_PER_VERSION = 3
EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
_NON_SLUG = re.compile(r"[^a-z0-9]+")


class DatasetSeed(NamedTuple):
    id: uuid.UUID
    slug: str
    status: str
    visibility: str
    owner: int
    created: datetime


@dataclass
class Catalog:
    """Everything generated, plus the slugs a wrk run may look up (each answers 200 for the bench person)."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    lookup_slugs: list[str] = field(default_factory=list)

    def add(self, table: str, row: Row) -> None:
        self.rows.setdefault(table, []).append(row)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _hex(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _slugify(text: str) -> str:
    return _NON_SLUG.sub("-", text.lower()).strip("-")


def _moment(rng: random.Random, days: int = 900) -> datetime:
    return EPOCH + timedelta(seconds=rng.randrange(days * 86_400))


def _sentence(rng: random.Random) -> str:
    template = rng.choice(words.SENTENCES)
    return template.format(
        team=rng.choice(words.TEAMS),
        task=rng.choice(words.TASKS),
        region=rng.choice(words.REGIONS).upper(),
        product=rng.choice(words.PRODUCTS),
        modality=rng.choice(words.MODALITIES).capitalize(),
        subject=rng.choice(words.SUBJECTS),
        subject2=rng.choice(words.SUBJECTS),
        condition=rng.choice(words.CONDITIONS),
        condition2=rng.choice(words.CONDITIONS),
        qualifier=rng.choice(words.QUALIFIERS),
    )


def _dataset_name(rng: random.Random) -> str:
    parts = [rng.choice(words.SUBJECTS).title(), rng.choice(words.MODALITIES).capitalize()]
    if rng.random() < 0.7:
        parts.append(rng.choice(words.REGIONS).upper())
    if rng.random() < 0.5:
        parts.append(rng.choice(words.CONDITIONS))
    return " ".join(parts)


def _units(catalog: Catalog, rng: random.Random, count: int) -> list[uuid.UUID]:
    divisions = max(1, count // 10)
    ids: list[uuid.UUID] = []
    for index in range(count):
        unit_id = _uuid(rng)
        parent = None if index < divisions else ids[index % divisions]
        name = f"{words.TEAMS[index % len(words.TEAMS)].title()} {index + 1}"
        catalog.add("access_orgunit", (unit_id, name, "active", _moment(rng), parent))
        ids.append(unit_id)
    return ids


def _people(catalog: Catalog, rng: random.Random, count: int, units: list[uuid.UUID]) -> None:
    for number in range(1, count + 1):
        username = BENCH_USERNAME if number == 1 else f"person{number:05d}"
        email = f"{username}@example.com"
        departed = number > 1 and rng.random() < 0.03
        joined = _moment(rng)
        catalog.add(
            "auth_user",
            (
                USER_ID_OFFSET + number,
                "!" + _hex(rng, 160),
                None,
                False,
                username,
                "",
                "",
                email,
                False,
                not departed,
                joined,
            ),
        )
        manager = None if number <= 20 else rng.randrange(1, 21)
        catalog.add(
            "access_person",
            (
                number,
                f"E{number:06d}",
                username.replace("-", " ").title(),
                email,
                "departed" if departed else "active",
                joined + timedelta(days=400) if departed else None,
                manager,
                rng.choice(units),
                USER_ID_OFFSET + number,
            ),
        )


def _dataset_status(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.85:
        return "active"
    if roll < 0.92:
        return "deprecated"
    return "draft" if roll < 0.97 else "archived"


def _dataset(catalog: Catalog, rng: random.Random, index: int, people: int, units: list[uuid.UUID]) -> DatasetSeed:
    name = _dataset_name(rng)
    seed = DatasetSeed(
        id=_uuid(rng),
        slug=f"{_slugify(name)}-{index:05d}",
        status=_dataset_status(rng),
        visibility="restricted" if rng.random() < 0.1 else "internal",
        owner=rng.randrange(1, people + 1),
        created=_moment(rng, 600),
    )
    slug, status, created, owner = seed.slug, seed.status, seed.created, seed.owner
    earlier = catalog.rows.get("catalog_dataset", [])
    superseded_by = rng.choice(earlier)[0] if status == "deprecated" and earlier and rng.random() < 0.6 else None
    retired_at = created + timedelta(days=200) if status in {"deprecated", "archived"} else None
    catalog.add(
        "catalog_dataset",
        (
            seed.id,
            slug,
            name,
            f"{_sentence(rng)} {_sentence(rng)}",
            f"## {name}\n\n{_sentence(rng)}" if rng.random() < 0.4 else "",
            status,
            "Superseded; migrate your training config." if retired_at else "",
            retired_at,
            retired_at + timedelta(days=180) if retired_at and rng.random() < 0.5 else None,
            retired_at if status == "archived" else None,
            seed.visibility,
            rng.choice(("public", "internal", "internal", "confidential", "personal")),
            f"https://git.example.com/{rng.choice(words.TEAMS)}/training.git" if rng.random() < 0.5 else "",
            f"configs/{slug}.yaml" if rng.random() < 0.5 else "",
            created,
            created + timedelta(days=30),
            owner,
            owner,
            rng.choice(units),
            superseded_by,
        ),
    )
    return seed


def _locations(catalog: Catalog, rng: random.Random, dataset_id: uuid.UUID, slug: str) -> None:
    catalog.add(
        "catalog_storagelocation",
        (f"s3://kura-{rng.choice(words.TEAMS)}/{slug}/", "primary", "", None, None, "", dataset_id),
    )
    if rng.random() < 0.3:
        catalog.add(
            "catalog_storagelocation", (f"gs://kura-mirror/{slug}/", "mirror", "EU mirror", None, None, "", dataset_id)
        )


def _stewards(catalog: Catalog, rng: random.Random, dataset_id: uuid.UUID, people: int, owner: int) -> None:
    if rng.random() < 0.3:
        for person in {rng.randrange(1, people + 1) for _ in range(rng.randint(1, 2))} - {owner}:
            catalog.add("catalog_dataset_stewards", (dataset_id, person))


def _manifest(rng: random.Random, slug: str, label: str) -> list[tuple[str, int, str]]:
    files = [
        (f"{slug}/{label}/part-{part:05d}.parquet", rng.randrange(10**6, 10**9), _hex(rng, 256))
        for part in range(FILES_PER_VERSION)
    ]
    return sorted(files, key=lambda item: item[0].encode())


def _digest(files: list[tuple[str, int, str]]) -> str:
    canonical = "".join(f"{path}\t{size}\t{file_hash}\n" for path, size, file_hash in files)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _versions(catalog: Catalog, rng: random.Random, dataset: DatasetSeed, manifests: list[Row]) -> bool:
    """Add 1-5 versions (the newest sometimes a draft); return whether one of them is published."""
    status = dataset.status
    count = 1 if status == "draft" else rng.randint(1, 5)
    published_any = False
    for number in range(1, count + 1):
        label = f"v{number}"
        draft = status == "draft" or (number == count and count > 1 and rng.random() < 0.15)
        files = _manifest(rng, dataset.slug, label)
        made = dataset.created + timedelta(days=20 * number, seconds=rng.randrange(86_400))
        version_id = _uuid(rng)
        catalog.add(
            "catalog_datasetversion",
            (
                version_id,
                label,
                "draft" if draft else "published",
                _digest(files),
                sum(size for _, size, _ in files),
                len(files),
                rng.choice(("manual", "api", "api", "dvc", "scan")),
                _hex(rng, 160) if rng.random() < 0.6 else "",
                None,
                "",
                made,
                None if draft else made,
                dataset.owner,
                dataset.id,
            ),
        )
        manifests.extend((path, size, file_hash, version_id) for path, size, file_hash in files)
        published_any = published_any or not draft
    return published_any


def _is_lookup_target(dataset: DatasetSeed, published: bool) -> bool:
    """Would ``GET .../versions/latest/`` answer 200 for the bench person (person 1)?"""
    visible = dataset.visibility == "internal" or dataset.owner == 1
    return published and visible and dataset.status in {"active", "deprecated"}


def build_catalog(*, datasets: int, people: int, units: int, seed: int) -> Catalog:
    rng = random.Random(seed)
    catalog = Catalog()
    unit_ids = _units(catalog, rng, units)
    _people(catalog, rng, people, unit_ids)
    manifests: list[Row] = []
    for index in range(datasets):
        dataset = _dataset(catalog, rng, index, people, unit_ids)
        _locations(catalog, rng, dataset.id, dataset.slug)
        _stewards(catalog, rng, dataset.id, people, dataset.owner)
        if _is_lookup_target(dataset, _versions(catalog, rng, dataset, manifests)):
            catalog.lookup_slugs.append(dataset.slug)
    catalog.rows["catalog_manifestfile"] = manifests
    _number_rows(catalog, ("catalog_dataset_stewards", "catalog_storagelocation", "catalog_manifestfile"))
    return catalog


def _number_rows(catalog: Catalog, tables: tuple[str, ...]) -> None:
    """Give identity-keyed rows explicit ids (the loader moves each sequence past them afterwards)."""
    for table in tables:
        catalog.rows[table] = [(index + 1, *row) for index, row in enumerate(catalog.rows.get(table, []))]
