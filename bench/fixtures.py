"""Synthetic catalog rows, generated deterministically from a seed and shaped exactly like Kura's tables.

Rows are plain tuples in the column order of ``TABLES`` so they can be streamed straight into ``COPY``.
Person 1 (``bench-ci``) is the lookup benchmark's caller: an ordinary member of one unit who owns a few
datasets, reads others through personal and unit grants, and sees every internal dataset's metadata.
Person 2 (``bench-heavy``) holds exactly ``heavy_grants`` personal grants and person 3 (``bench-none``) none;
both belong to a unit that holds no grants. The two ``MERGE_UNITS`` hold ``merge_grants`` unit grants between
them. Guardian's projection tables and unit groups are filled as the grant services would have left them.
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

# Column order of each COPY; tables are loaded in this order.
_COLUMNS = {
    "auth_group": "id name",
    "access_orgunit": "id name status created_at parent_id group_id",
    "auth_user": (
        "id password last_login is_superuser username first_name last_name email is_staff is_active date_joined"
    ),
    "access_person": "id external_id display_name email status departed_at manager_id primary_unit_id user_id",
    "access_membership": "id role valid_from valid_to end_reason person_id unit_id",
    "auth_user_groups": "id user_id group_id",
    "catalog_dataset": (
        "id slug name purpose description status deprecation_note deprecated_at sunset_at archived_at visibility "
        "classification training_repo_url training_repo_path created_at updated_at created_by_id owner_id "
        "owning_unit_id superseded_by_id composition sensitive_information collection_process preprocessing "
        "known_biases known_limitations licence maintenance_plan"
    ),
    "catalog_dataset_stewards": "id dataset_id person_id",
    "catalog_storagelocation": (
        "id uri role note last_verified_at last_verification_ok last_verification_message dataset_id"
    ),
    "catalog_datasetversion": (
        "id label status digest total_bytes file_count source git_commit guideline_revision notes created_at "
        "published_at created_by_id dataset_id"
    ),
    "catalog_manifestfile": "id path size hash version_id",
    "access_grant": (
        "id target_type_id target_id level basis justification starts_at expires_at revoked_at revoke_reason "
        "suspended_at created_at granted_by_id grantee_person_id grantee_unit_id"
    ),
    "catalog_datasetuserobjectpermission": "id permission_id user_id content_object_id",
    "catalog_datasetgroupobjectpermission": "id permission_id group_id content_object_id",
}
TABLES: dict[str, list[str]] = {table: columns.split() for table, columns in _COLUMNS.items()}
IDENTITY_TABLES = (
    "auth_group",
    "auth_user",
    "auth_user_groups",
    "access_person",
    "access_membership",
    "catalog_dataset_stewards",
    "catalog_storagelocation",
    "catalog_manifestfile",
    "access_grant",
    "catalog_datasetuserobjectpermission",
    "catalog_datasetgroupobjectpermission",
)
PRE_NUMBERED = {"auth_group", "auth_user", "access_person"}  # rows refer to each other by these ids
BENCH_USERNAME = "bench-ci"
BENCH_PERSON = 1
HEAVY_USERNAME = "bench-heavy"
HEAVY_PERSON = 2
NO_GRANT_USERNAME = "bench-none"
NO_GRANT_PERSON = 3
_SPECIAL_USERNAMES = {BENCH_PERSON: BENCH_USERNAME, HEAVY_PERSON: HEAVY_USERNAME, NO_GRANT_PERSON: NO_GRANT_USERNAME}
_RESERVED_PEOPLE = {HEAVY_PERSON, NO_GRANT_PERSON}  # never picked at random: their grants are counted exactly
# The last units of the list play fixed parts, under names the benchmarks look them up by.
BENCH_UNIT_NAME = "Bench CI unit"
MERGE_SOURCE_NAMES = ("Merge source A", "Merge source B")
QUIET_UNIT_NAME = "Quiet unit"  # holds no grants; the heavy and the grant-less caller are its members
MERGE_SUCCESSOR_NAME = "Merge successor"
_NAMED_UNITS = (MERGE_SUCCESSOR_NAME, QUIET_UNIT_NAME, *reversed(MERGE_SOURCE_NAMES), BENCH_UNIT_NAME)
CODENAMES_BY_LEVEL = {
    1: ("view_dataset",),
    2: ("view_dataset", "read_dataset_data"),
    3: ("view_dataset", "read_dataset_data", "change_dataset"),
}
USER_ID_OFFSET = 100  # migrate leaves guardian's AnonymousUser as auth_user 1
FILES_PER_VERSION = 3
READ = 2  # access.models.Level.READ
EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
_NON_SLUG = re.compile(r"[^a-z0-9]+")


class DatasetSeed(NamedTuple):
    id: uuid.UUID
    slug: str
    status: str
    visibility: str
    owner: int
    unit: uuid.UUID
    created: datetime


@dataclass
class Catalog:
    """The generated rows, by table."""

    rows: dict[str, list[Row]] = field(default_factory=dict)

    def add(self, table: str, row: Row) -> None:
        self.rows.setdefault(table, []).append(row)


@dataclass
class World:
    """What later rows refer to while generating."""

    rng: random.Random
    people: int
    units: list[uuid.UUID] = field(default_factory=list)
    bench_unit: uuid.UUID | None = None
    quiet_unit: uuid.UUID | None = None  # holds no grants
    merge_units: list[uuid.UUID] = field(default_factory=list)
    unit_groups: dict[uuid.UUID, int] = field(default_factory=dict)
    user_groups: set[tuple[int, int]] = field(default_factory=set)  # (user id, unit group id) of members
    datasets: list[uuid.UUID] = field(default_factory=list)
    grants: int = 0
    # guardian projection: the highest active level per (user id | group id, dataset)
    user_levels: dict[tuple[int, uuid.UUID], int] = field(default_factory=dict)
    group_levels: dict[tuple[int, uuid.UUID], int] = field(default_factory=dict)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _hex(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _slugify(text: str) -> str:
    return _NON_SLUG.sub("-", text.lower()).strip("-")


def _moment(rng: random.Random, days: int = 900) -> datetime:
    return EPOCH + timedelta(seconds=rng.randrange(days * 86_400))


def _person(world: World) -> int:
    while True:
        person = world.rng.randrange(1, world.people + 1)
        if person not in _RESERVED_PEOPLE:
            return person


def _other_person(world: World) -> int:
    """Anyone but the three bench callers (unit heads, stewards, former members, grantors)."""
    while True:
        person = _person(world)
        if person != BENCH_PERSON:
            return person


def _sentence(rng: random.Random) -> str:
    return rng.choice(words.SENTENCES).format(
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


def _add_units(catalog: Catalog, world: World, count: int) -> None:
    divisions = max(1, count // 10)
    for index in range(count):
        unit_id = _uuid(world.rng)
        parent = None if index < divisions else world.units[index % divisions]
        name = f"{words.TEAMS[index % len(words.TEAMS)].title()} {index + 1}"
        if index >= count - len(_NAMED_UNITS):
            name = _NAMED_UNITS[index - (count - len(_NAMED_UNITS))]
        group_id = index + 1
        catalog.add("auth_group", (group_id, f"org-unit:{unit_id}"))
        catalog.add("access_orgunit", (unit_id, name, "active", _moment(world.rng), parent, group_id))
        world.units.append(unit_id)
        world.unit_groups[unit_id] = group_id
    world.bench_unit = world.units[-1]
    world.quiet_unit = world.units[-4]
    world.merge_units = [world.units[-2], world.units[-3]]


def _random_unit(world: World) -> uuid.UUID:
    """A unit for random members and grants: neither the grant-less unit nor the two merged ones."""
    while True:
        unit = world.rng.choice(world.units)
        if unit != world.quiet_unit and unit not in world.merge_units:
            return unit


def _add_people(catalog: Catalog, world: World) -> None:
    rng = world.rng
    for number in range(1, world.people + 1):
        username = _SPECIAL_USERNAMES.get(number, f"person{number:05d}")
        email = f"{username}@example.com"
        departed = number not in _SPECIAL_USERNAMES and rng.random() < 0.03
        joined = _moment(rng)
        if number == BENCH_PERSON:
            unit = world.bench_unit
        elif number in _RESERVED_PEOPLE:
            unit = world.quiet_unit
        else:
            unit = rng.choice(world.units)
        user = (USER_ID_OFFSET + number, "!" + _hex(rng, 160), None, False, username, "", "", email, False)
        catalog.add("auth_user", (*user, not departed, joined))
        status, departed_at = ("departed", joined + timedelta(days=400)) if departed else ("active", None)
        manager = None if number <= 20 else rng.randrange(1, 21)
        person = (number, f"E{number:06d}", username.replace("-", " ").title(), email, status, departed_at)
        catalog.add("access_person", (*person, manager, unit, USER_ID_OFFSET + number))
        catalog.add("access_membership", ("member", joined, departed_at, "", number, unit))
        if not departed:
            world.user_groups.add((USER_ID_OFFSET + number, world.unit_groups[unit]))


def _add_unit_roles(catalog: Catalog, world: World) -> None:
    """Each unit gets a head and a steward (never the bench person), and some people a former unit."""
    for unit in world.units:
        for role in ("head", "steward"):
            person = _other_person(world)
            catalog.add("access_membership", (role, _moment(world.rng), None, "", person, unit))
            world.user_groups.add((USER_ID_OFFSET + person, world.unit_groups[unit]))
    for _ in range(world.people // 10):
        start = _moment(world.rng, 300)
        ended = (start, start + timedelta(days=200), "moved", _other_person(world), world.rng.choice(world.units))
        catalog.add("access_membership", ("member", *ended))


def _dataset_status(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.85:
        return "active"
    if roll < 0.92:
        return "deprecated"
    return "draft" if roll < 0.97 else "archived"


def _new_dataset(world: World, index: int, name: str) -> DatasetSeed:
    rng = world.rng
    return DatasetSeed(
        id=_uuid(rng),
        slug=f"{_slugify(name)}-{index:05d}",
        status=_dataset_status(rng),
        visibility="restricted" if rng.random() < 0.1 else "internal",
        owner=_person(world),
        unit=rng.choice(world.units),
        created=_moment(rng, 600),
    )


def _add_dataset(catalog: Catalog, world: World, index: int) -> DatasetSeed:
    rng = world.rng
    name = _dataset_name(rng)
    seed = _new_dataset(world, index, name)
    earlier = catalog.rows.get("catalog_dataset", [])
    superseded_by = earlier[-rng.randint(1, len(earlier))][0] if seed.status == "deprecated" and earlier else None
    retired = seed.created + timedelta(days=200) if seed.status in {"deprecated", "archived"} else None
    sunset = retired + timedelta(days=180) if retired and rng.random() < 0.5 else None
    description = f"## {name}\n\n{_sentence(rng)}" if rng.random() < 0.4 else ""
    repo = f"https://git.example.com/{rng.choice(words.TEAMS)}/training.git" if rng.random() < 0.5 else ""
    repo_path = f"configs/{seed.slug}.yaml" if repo else ""
    catalog.add(
        "catalog_dataset",
        (
            seed.id, seed.slug, name, f"{_sentence(rng)} {_sentence(rng)}", description, seed.status,
            "Superseded; move your training config." if retired else "", retired, sunset,
            retired if seed.status == "archived" else None, seed.visibility,
            rng.choice(("public", "internal", "internal", "confidential", "personal")), repo, repo_path,
            seed.created, seed.created + timedelta(days=30), seed.owner, seed.owner, seed.unit, superseded_by,
            *_datasheet(seed.slug),
        ),
    )  # fmt: skip
    return seed


def _datasheet(slug: str) -> tuple[str, ...]:
    """Datasheet answers (composition … maintenance plan) for about a third of the datasets, partly answered as
    people do. Drawn from the slug, not the world's generator: adding them left every other row as it was."""
    rng = random.Random(slug)
    if rng.random() >= 0.35:
        return ("",) * 8
    answer = [_sentence(rng) if rng.random() < chance else "" for chance in (0.9, 0.4, 0.7, 0.5, 0.4, 0.5)]
    licence = rng.choice(("CC-BY-4.0", "CC0-1.0", "proprietary", "internal use only", ""))
    plan = f"Refreshed each quarter by the {rng.choice(words.TEAMS)} team." if rng.random() < 0.5 else ""
    return (*answer, licence, plan)


def _add_locations(catalog: Catalog, rng: random.Random, dataset: DatasetSeed) -> None:
    bucket = f"kura-{rng.choice(words.TEAMS)}"
    catalog.add(
        "catalog_storagelocation", (f"s3://{bucket}/{dataset.slug}/", "primary", "", None, None, "", dataset.id)
    )
    if rng.random() < 0.3:
        mirror = (f"gs://kura-mirror/{dataset.slug}/", "mirror", "EU mirror", None, None, "", dataset.id)
        catalog.add("catalog_storagelocation", mirror)


def _add_stewards(catalog: Catalog, world: World, dataset: DatasetSeed) -> set[int]:
    stewards: set[int] = set()
    if world.rng.random() < 0.3:
        stewards = {_person(world) for _ in range(world.rng.randint(1, 2))} - {dataset.owner}
    for person in stewards:
        catalog.add("catalog_dataset_stewards", (dataset.id, person))
    return stewards


def _manifest(rng: random.Random, slug: str, label: str) -> list[tuple[str, int, str]]:
    files = [
        (f"{slug}/{label}/part-{part:05d}.parquet", rng.randrange(10**6, 10**9), _hex(rng, 256))
        for part in range(FILES_PER_VERSION)
    ]
    return sorted(files, key=lambda item: item[0].encode())


def _digest(files: list[tuple[str, int, str]]) -> str:
    canonical = "".join(f"{path}\t{size}\t{file_hash}\n" for path, size, file_hash in files)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _add_versions(catalog: Catalog, rng: random.Random, dataset: DatasetSeed) -> bool:
    """Add 1-5 versions (the newest sometimes still a draft); return whether any is published."""
    count = 1 if dataset.status == "draft" else rng.randint(1, 5)
    published_any = False
    for number in range(1, count + 1):
        label = f"v{number}"
        draft = dataset.status == "draft" or (number == count > 1 and rng.random() < 0.15)
        files = _manifest(rng, dataset.slug, label)
        made = dataset.created + timedelta(days=20 * number, seconds=rng.randrange(86_400))
        version_id = _uuid(rng)
        commit = _hex(rng, 160) if rng.random() < 0.6 else ""
        size = sum(size for _, size, _ in files)
        source = rng.choice(("manual", "api", "api", "dvc", "scan"))
        status, published_at = ("draft", None) if draft else ("published", made)
        catalog.add(
            "catalog_datasetversion",
            (version_id, label, status, _digest(files), size, len(files), source, commit, None, "", made,
             published_at, dataset.owner, dataset.id),
        )  # fmt: skip
        for path, file_size, file_hash in files:
            catalog.add("catalog_manifestfile", (path, file_size, file_hash, version_id))
        published_any = published_any or not draft
    return published_any


def _grant(
    catalog: Catalog,
    world: World,
    type_id: int,
    dataset: uuid.UUID,
    *,
    person: int | None,
    unit: uuid.UUID | None,
    in_force: bool = False,
    level: int | None = None,
) -> bool:
    """Add a grant (unless ``in_force``, a few expired or revoked, as in a real ledger); return whether it is
    in force. Grants in force also go into guardian's projection, as the grant services would put them."""
    rng = world.rng
    starts = _moment(rng, 700)
    roll = 1.0 if in_force else rng.random()
    expires = starts + timedelta(days=90) if roll < 0.1 else None
    revoked = starts + timedelta(days=10) if 0.1 <= roll < 0.15 else None
    if level is None:
        level = READ if person == BENCH_PERSON or unit == world.bench_unit else rng.choice((1, 2, 2, 2, 3))
    row = (type_id, dataset, level, "request", "Needed for training.", starts, expires, revoked, "", None, starts)
    catalog.add("access_grant", (*row, _other_person(world), person, unit))
    world.grants += 1
    active = expires is None and revoked is None
    if active:
        levels, key = (
            (world.user_levels, (USER_ID_OFFSET + person, dataset))
            if person is not None
            else (world.group_levels, (world.unit_groups[unit], dataset))  # type: ignore[index]
        )
        levels[key] = max(level, levels.get(key, 0))
    return active


def _add_grants(catalog: Catalog, world: World, type_id: int, dataset: DatasetSeed) -> None:
    """Read grants for the bench person (lookup caller) and its unit."""
    if world.rng.random() < 0.02:
        _grant(catalog, world, type_id, dataset.id, person=BENCH_PERSON, unit=None)
    if world.rng.random() < 0.08:
        _grant(catalog, world, type_id, dataset.id, person=None, unit=world.bench_unit)


def _add_ledger(catalog: Catalog, world: World, type_id: int, *, total: int, heavy: int, merge: int) -> None:
    """The heavy caller's grants, the merged units' grants, then random grants until the ledger has ``total``."""
    rng = world.rng
    for dataset in rng.sample(world.datasets, min(heavy, len(world.datasets))):
        _grant(catalog, world, type_id, dataset, person=HEAVY_PERSON, unit=None, in_force=True, level=READ)
    for index, unit in enumerate(world.merge_units):
        share = merge // len(world.merge_units) + (1 if index < merge % len(world.merge_units) else 0)
        for dataset in rng.sample(world.datasets, min(share, len(world.datasets))):
            _grant(catalog, world, type_id, dataset, person=None, unit=unit, in_force=True)
    while world.grants < total:
        dataset = rng.choice(world.datasets)
        if rng.random() < 0.9:
            _grant(catalog, world, type_id, dataset, person=_other_person(world), unit=None)
        else:
            _grant(catalog, world, type_id, dataset, person=None, unit=_random_unit(world))


def _add_projection(catalog: Catalog, world: World, permission_ids: dict[str, int]) -> None:
    for (user, dataset), level in world.user_levels.items():
        for codename in CODENAMES_BY_LEVEL[level]:
            catalog.add("catalog_datasetuserobjectpermission", (permission_ids[codename], user, dataset))
    for (group, dataset), level in world.group_levels.items():
        for codename in CODENAMES_BY_LEVEL[level]:
            catalog.add("catalog_datasetgroupobjectpermission", (permission_ids[codename], group, dataset))
    for user, group in sorted(world.user_groups):
        catalog.add("auth_user_groups", (user, group))


def build_catalog(
    *,
    datasets: int,
    people: int,
    units: int,
    grants: int,
    heavy_grants: int,
    merge_grants: int,
    seed: int,
    dataset_type_id: int,
    permission_ids: dict[str, int],
) -> Catalog:
    """``dataset_type_id`` and ``permission_ids`` (by codename) are ids that migrate assigned in the target
    database."""
    world = World(rng=random.Random(seed), people=people)
    catalog = Catalog()
    _add_units(catalog, world, units)
    _add_people(catalog, world)
    _add_unit_roles(catalog, world)
    for index in range(datasets):
        dataset = _add_dataset(catalog, world, index)
        _add_locations(catalog, world.rng, dataset)
        _add_stewards(catalog, world, dataset)
        _add_versions(catalog, world.rng, dataset)
        _add_grants(catalog, world, dataset_type_id, dataset)
        world.datasets.append(dataset.id)
    _add_ledger(catalog, world, dataset_type_id, total=grants, heavy=heavy_grants, merge=merge_grants)
    _add_projection(catalog, world, permission_ids)
    _number_rows(catalog)
    return catalog


def _number_rows(catalog: Catalog) -> None:
    """Give identity-keyed rows explicit ids (the loader then moves each sequence past them)."""
    for table in IDENTITY_TABLES:
        if table in PRE_NUMBERED:
            continue
        catalog.rows[table] = [(index + 1, *row) for index, row in enumerate(catalog.rows.get(table, []))]
