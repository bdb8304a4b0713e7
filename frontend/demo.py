"""Demo content for the embedded run: an org chart, a dozen datasets with versions and rules, and a
local "bucket" directory holding both registered and unregistered data.

Loading is idempotent: existing people, units and datasets are left as they are.
"""

import hashlib
import io
import json
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from access.approvals import access_request_create, effective_unit
from access.grants import grant_create
from access.leavers import person_depart
from access.models import AccessRequest, Grant, Level, Membership, OrgUnit, Person
from access.org import membership_start, org_event_apply, plan_merge, unit_alias_add
from access.services import org_unit_create, person_create
from annotations.models import CorrectionExample
from annotations.services import ExampleSide, correction_example_add, guideline_revise
from catalog.models import Dataset
from catalog.services import LocationSpec, dataset_create, dataset_update, dataset_version_create
from frontend.demo_dvc import load_dvc_demo
from frontend.demo_images import LABEL_RIGHT, LABEL_WRONG, street_sign
from frontend.demo_lineage import lineage_story
from storage.models import StorageConnection
from storage.services import connection_create

DEMO_CONNECTION = "demo-bucket"
UNITS = {
    "ML Research": None,
    "Perception": "ML Research",
    "Speech": "ML Research",
    "ML Platform": None,
    "Data Governance": None,
    "Computer Vision (2024)": "ML Research",  # merged into Perception by the demo's org history
}

PEOPLE = [
    # username, external id, name, unit, manager username
    ("demo", "HR-1000", "Dana Demo", "Perception", "hiro"),
    ("hiro", "HR-1001", "Hiro Tanaka", "ML Research", None),
    ("amara", "HR-1002", "Amara Okafor", "Perception", "hiro"),
    ("lukas", "HR-1003", "Lukas Brandt", "Speech", "hiro"),
    ("mei", "HR-1004", "Mei Lin", "ML Platform", None),
    ("sofia", "HR-1005", "Sofia Rossi", "Data Governance", None),
    ("ravi", "HR-1006", "Ravi Iyer", "Speech", "lukas"),
    ("jonas", "HR-1007", "Jonas Weber", "Perception", "hiro"),  # leaves in the demo: his data is Left behind
    ("kai", "HR-1008", "Kai Müller", "Computer Vision (2024)", "hiro"),
]

ROLES = [
    ("amara", "Perception", Membership.Role.STEWARD),
    ("hiro", "ML Research", Membership.Role.HEAD),
    ("lukas", "Speech", Membership.Role.HEAD),
    ("mei", "ML Platform", Membership.Role.STEWARD),
    ("sofia", "Data Governance", Membership.Role.STEWARD),
]

SIGN_SCHEMA = {
    "classes": [
        {
            "name": "regulatory",
            "definition": "Signs that order or forbid (speed limits, no entry, stop).",
            "attributes": [
                {"name": "occluded", "type": "boolean"},
                {"name": "truncation", "type": "enum", "values": ["none", "partial", "heavy"]},
            ],
        },
        {"name": "warning", "definition": "Triangular signs announcing a hazard ahead."},
        {"name": "information", "definition": "Rectangular direction and service signs."},
    ]
}
SPEECH_SCHEMA = {
    "classes": [
        {"name": "wake_word", "definition": "The product wake word, spoken as a command."},
        {"name": "near_miss", "definition": "Phonetically close words that must not trigger."},
        {"name": "noise", "definition": "No speech: background, music or silence."},
    ]
}


SIGN_RULES_R2 = """## Boxes
Draw tight boxes around the sign face, **not** the pole.

Signs smaller than 12 px are ignored.

## Occlusion
Box only the visible part of the sign and set `occluded: true` when something (a branch, a truck) hides
more than a tenth of its face. Never guess the hidden outline.

## Truncation
A sign cut by the image border is boxed up to the border, with `truncation: partial` (less than half
missing) or `heavy` (more than half).
"""


@dataclass
class DemoDataset:
    slug: str
    name: str
    purpose: str
    owner: str
    unit: str
    tags: list[str]
    locations: list[LocationSpec]
    versions: list[str]
    description: str = ""
    rules: str = ""
    schema: Mapping[str, Any] = field(default_factory=dict)
    revised_rules: str = ""  # a second revision, published before the last version
    repo: str = ""
    repo_path: str = ""
    visibility: str = Dataset.Visibility.INTERNAL
    classification: str = Dataset.Classification.INTERNAL
    files: int = 40
    datasheet: Mapping[str, str] = field(default_factory=dict)


SIGNS_EU_DATASHEET = {
    "composition": "Dashcam frames (1920 x 1080 JPEG), each with boxes around every traffic sign larger than 12 px. "
    "Splits by drive, never by frame, so one drive never lands in both train and test.",
    "sensitive_information": "Faces and licence plates are blurred before upload; no location traces are kept.",
    "collection_process": "Recorded by the test fleet in 14 EU countries, 2023-2026, sampled at one frame per "
    "second from drives chosen to balance day, night, rain and snow.",
    "preprocessing": "Frames with motion blur above the fleet's threshold are dropped; near-duplicates removed by "
    "perceptual hash (`tools/dedupe.py` in the training repository).",
    "known_biases": "Three quarters of the frames are from Germany and France; rural roads in the east are few.",
    "known_limitations": "Not for speed-limit enforcement or any use that identifies people or vehicles.",
    "licence": "Internal use only (fleet data agreement 2023-07)",
    "maintenance_plan": "The Perception stewards add a version each quarter and fix reported label errors within "
    "two weeks; report them in #perception-data.",
}
WAKE_WORD_DATASHEET = {
    "composition": "One-second 16 kHz WAV clips: wake words, near-miss words and background noise.",
    "sensitive_information": "Voices of consenting speakers; consent is recorded in the Speaker consent log.",
    "collection_process": "Studio and at-home recordings by paid speakers through the speech team's app.",
    "known_biases": "Few speakers over 65 and few non-native accents.",
}


def _datasets(bucket: Path) -> list[DemoDataset]:
    local = f"file://{bucket}"
    return [
        DemoDataset(
            "street-signs-eu", "Street signs (EU)", "Train and evaluate the traffic-sign detector used by the "
            "driver-assist stack in EU markets.", "amara", "Perception", ["vision", "detection", "automotive"],
            [LocationSpec(f"{local}/street-signs-eu/", "primary"), LocationSpec("s3://ml-raw/signs/eu/", "raw")],
            ["v1", "v2", "v3"],
            description="Dashcam frames from 14 EU countries, 2023-2026.\n\n* day and night\n* rain and snow",
            rules="## Boxes\nDraw tight boxes around the sign face, **not** the pole.\n\n"
            "Signs smaller than 12 px are ignored.",
            revised_rules=SIGN_RULES_R2,
            schema=SIGN_SCHEMA, repo="git@git.example.com:perception/signs.git", repo_path="data/signs.dvc",
            datasheet=SIGNS_EU_DATASHEET,
        ),
        DemoDataset(
            "street-signs-us", "Street signs (US)", "Extend the traffic-sign detector to US signage (MUTCD).",
            "amara", "Perception", ["vision", "detection", "automotive"],
            [LocationSpec(f"{local}/street-signs-us/", "primary")], ["v1"], schema=SIGN_SCHEMA,
            rules="Same box rules as the EU set; US speed signs are *regulatory*.",
        ),
        DemoDataset(
            "wake-word-en", "Wake word (English)", "Train the on-device wake-word model and measure false "
            "accepts on near-miss words.", "lukas", "Speech", ["audio", "keyword-spotting"],
            [LocationSpec(f"{local}/wake-word-en/", "primary"), LocationSpec("gs://speech-mirror/wake-en/", "mirror")],
            ["2026-03-01", "2026-09-15"], rules="Clip boundaries at 50 ms before and after the word.",
            schema=SPEECH_SCHEMA, repo="https://git.example.com/speech/kws.git", repo_path="data/",
            datasheet=WAKE_WORD_DATASHEET,
        ),
        DemoDataset(
            "wake-word-de", "Wake word (German)", "German wake-word training data for the kiosk product.",
            "ravi", "Speech", ["audio", "keyword-spotting"], [LocationSpec("s3://speech-data/wake-de/", "primary")],
            ["v1"], schema=SPEECH_SCHEMA,
        ),
        DemoDataset(
            "pedestrian-crops", "Pedestrian crops", "Re-identification training for the pedestrian tracker.",
            "amara", "Perception", ["vision", "tracking", "personal-data"],
            [LocationSpec("s3://perception-secure/ped-crops/", "primary")], ["v1", "v2"],
            visibility=Dataset.Visibility.RESTRICTED, classification=Dataset.Classification.PERSONAL,
        ),
        DemoDataset(
            "lidar-sweeps-2025", "Lidar sweeps 2025", "3D object detection pre-training on roof-mounted lidar.",
            "hiro", "ML Research", ["lidar", "3d", "automotive"],
            [
                LocationSpec("dvc://perception-lidar#data/sweeps", "primary"),
                LocationSpec("az://lidar/sweeps/", "backup"),
            ],
            ["v1"], repo="git@git.example.com:research/lidar.git", repo_path="data/sweeps.dvc",
        ),
        DemoDataset(
            "support-tickets-intents", "Support ticket intents", "Intent classification for routing customer "
            "support tickets.", "mei", "ML Platform", ["text", "classification"],
            [LocationSpec("s3://platform-data/tickets/intents/", "primary")], ["v1", "v2"],
            classification=Dataset.Classification.CONFIDENTIAL,
            rules="One intent per ticket; use `other` when two intents are equally strong.",
        ),
        DemoDataset(
            "invoice-layouts", "Invoice layouts", "Layout analysis for the invoice-extraction service.", "mei",
            "ML Platform", ["documents", "ocr"], [LocationSpec(f"{local}/invoice-layouts/", "primary")], ["v1"],
        ),
        DemoDataset(
            "product-photos", "Product photos", "Image similarity search for the catalogue team.", "mei",
            "ML Platform", ["vision", "retrieval"], [LocationSpec("s3://platform-data/products/", "primary")], ["v1"],
        ),
        DemoDataset(
            "weather-radar-eu", "Weather radar (EU)", "Precipitation nowcasting features for route planning.",
            "hiro", "ML Research", ["tabular", "forecasting"], [LocationSpec("s3://open-data/radar/eu/", "primary")],
            ["2025-q4", "2026-q1"], classification=Dataset.Classification.PUBLIC,
            datasheet={"licence": "CC-BY-4.0", "collection_process": "Composites of the national weather services' "
                       "open radar feeds, resampled to 2 km and 5 minutes."},
        ),
        DemoDataset(
            "speaker-consent-log", "Speaker consent log", "Proof of consent for every recorded speaker; required "
            "before any speech dataset is used.", "sofia", "Data Governance", ["governance", "personal-data"],
            [LocationSpec("s3://governance/consent/", "primary")], ["v1"],
            visibility=Dataset.Visibility.RESTRICTED, classification=Dataset.Classification.PERSONAL,
        ),
        DemoDataset(
            "night-drive-clips", "Night drive clips", "Low-light evaluation clips for the sign and lane detectors.",
            "jonas", "Perception", ["vision", "video", "automotive"],
            [LocationSpec(f"{local}/night-drive-clips/", "primary")], ["v1"],
        ),
        DemoDataset(
            "lane-markings-raw", "Lane markings (raw)", "Unlabelled dashcam frames kept for lane-marking work.",
            "jonas", "Perception", ["vision", "raw"], [LocationSpec("s3://ml-raw/lanes/", "raw")], ["2025-06"],
        ),
        DemoDataset(
            "traffic-lights", "Traffic lights", "Traffic-light state classification for the driver-assist stack.",
            "kai", "Computer Vision (2024)", ["vision", "classification", "automotive"],
            [LocationSpec("s3://cv-team/traffic-lights/", "primary")], ["v1", "v2"],
            visibility=Dataset.Visibility.RESTRICTED,
        ),
        DemoDataset(
            "street-signs-legacy", "Street signs (2019 legacy)", "The first sign dataset; kept for reproducing "
            "2019-2022 models only.", "amara", "Perception", ["vision", "detection"],
            [LocationSpec(f"{local}/street-signs-legacy/", "primary")], ["v1"],
        ),
    ]


def _fake_files(slug: str, label: str, count: int) -> list[dict[str, object]]:
    rng = random.Random(f"{slug}@{label}")  # noqa: S311 - deterministic demo content, not security
    return [
        {
            "path": f"{'train' if index % 5 else 'val'}/{slug}-{index:05d}.jpg",
            "size": rng.randint(20_000, 400_000),
            "hash": hashlib.sha256(f"{slug}/{label}/{index}".encode()).hexdigest(),
        }
        for index in range(count)
    ]


def _write_bucket(bucket: Path) -> None:
    """Small real files so storage checks and scans have something to find."""
    layout = {
        "street-signs-eu": 12, "street-signs-us": 6, "wake-word-en": 8, "invoice-layouts": 5,
        "street-signs-legacy": 4, "night-drive-clips": 5,
        # Nobody registered these: the storage scanner should report them.
        "tmp-amara-export": 7, "old-experiments/kws-augmented": 9,
    }
    # How long ago each folder was last written, so the findings' age chart tells a story.
    age_days = {"tmp-amara-export": 80, "old-experiments/kws-augmented": 540, "night-drive-clips": 400}
    now = time.time()
    for folder, count in layout.items():
        directory = bucket / folder
        directory.mkdir(parents=True, exist_ok=True)
        written = now - age_days.get(folder, 12) * 86400
        for index in range(count):
            target = directory / f"part-{index:03d}.bin"
            if not target.exists():
                target.write_bytes(hashlib.sha256(f"{folder}{index}".encode()).digest() * 64)
                stamp = written - (count - index) * 3600  # a few hours apart, as real exports are
                os.utime(target, (stamp, stamp))


@transaction.atomic
def load_demo(data_dir: Path) -> Person:
    bucket = data_dir / "demo-storage" / "bucket"
    _write_bucket(bucket)
    units: dict[str, OrgUnit] = {}
    for name, parent in UNITS.items():
        existing = OrgUnit.objects.filter(name=name).first()
        if existing is None:
            existing = org_unit_create(name=name, parent=units[parent] if parent else None)
            unit_alias_add(unit=existing, name=name)  # how the directory spells it, for sync_directory
        units[name] = existing
    people: dict[str, Person] = {}
    for username, external_id, display_name, unit, manager in PEOPLE:
        existing_person = Person.objects.filter(external_id=external_id).first()
        people[username] = existing_person or person_create(
            username=username, external_id=external_id, display_name=display_name,
            email=f"{username}@example.com", primary_unit=units[unit],
            manager=people.get(manager) if manager else None,
            is_staff=username == "demo",
        )
    get_user_model().objects.filter(username="demo").update(is_superuser=True, is_staff=True)
    now = timezone.now()
    for spec in _datasets(bucket):
        if Dataset.objects.filter(slug=spec.slug).exists():
            continue
        owner = people[spec.owner]
        dataset = dataset_create(
            actor=owner, slug=spec.slug, name=spec.name, purpose=spec.purpose, owner=owner,
            owning_unit=units[spec.unit], description=spec.description, tags=spec.tags,
            locations=spec.locations, visibility=spec.visibility, classification=spec.classification,
            training_repo_url=spec.repo, training_repo_path=spec.repo_path, datasheet=spec.datasheet,
        )
        if spec.rules or spec.schema:
            guideline_revise(dataset=dataset, body=spec.rules, label_schema=spec.schema, actor=owner)
        for index, label in enumerate(spec.versions):
            if spec.revised_rules and index == len(spec.versions) - 1:
                guideline_revise(dataset=dataset, body=spec.revised_rules, label_schema=spec.schema, actor=owner,
                                 change_note="Occlusion and truncation rules after the v2 label review")
            # Without an explicit revision, each version records the rules in force when it is published.
            version = dataset_version_create(
                dataset=dataset, actor=owner, label=label, files=_fake_files(spec.slug, label, spec.files + index * 7),
                git_commit=hashlib.sha1(f"{spec.slug}{label}".encode(), usedforsecurity=False).hexdigest(),
            )
            # Spread publication dates so "latest" and the version history look real.
            published = now - timedelta(days=120 * (len(spec.versions) - index))
            type(version).objects.filter(pk=version.pk).update(published_at=published, created_at=published)
    lineage_story(people)
    legacy = Dataset.objects.get(slug="street-signs-legacy")
    if legacy.status == Dataset.Status.ACTIVE:
        dataset_update(
            dataset=legacy, actor=people["amara"], status=Dataset.Status.DEPRECATED,
            deprecation_note="Boxes were drawn around the pole, not the sign face. Retrain on the EU set.",
            superseded_by=Dataset.objects.get(slug="street-signs-eu"), sunset_at=now + timedelta(days=90),
        )
    _correction_examples(people["amara"])
    _access_story(units, people)
    _storage_connection(bucket, people["demo"])
    load_dvc_demo(data_dir, people, units["Perception"])
    return people["demo"]


def _storage_connection(bucket: Path, actor: Person) -> None:
    """The demo bucket as a scanned connection, so its unregistered folders show up as findings."""
    if StorageConnection.objects.filter(name=DEMO_CONNECTION).exists():
        return
    try:
        connection_create(actor=actor, name=DEMO_CONNECTION, kind=StorageConnection.Kind.LOCAL, roots=[str(bucket)],
                          schedule_minutes=60)
    except ValidationError:  # the bucket lies outside KURA_LOCAL_ROOTS: nothing may scan it
        return

def _correction_examples(author: Person) -> None:
    """Worked corrections for the EU sign rules (before: what annotators drew; after: what the rules ask)."""
    dataset = Dataset.objects.get(slug="street-signs-eu")
    if CorrectionExample.objects.filter(guideline__dataset=dataset).exists():
        return
    guideline_revise(dataset=dataset, body=SIGN_RULES_R2, label_schema=SIGN_SCHEMA, actor=author,
                     change_note="Occlusion and truncation rules after the v2 label review")
    examples = [
        ("rule-boxes", street_sign(box=(88, 18, 154, 130), box_colour=LABEL_WRONG),
         street_sign(box=(94, 24, 148, 78), box_colour=LABEL_RIGHT),
         "The box follows the **sign face**; the pole is not part of the sign."),
        ("rule-occlusion", street_sign(box=(58, 18, 148, 78), box_colour=LABEL_WRONG, occluded=True),
         street_sign(box=(94, 24, 148, 78), box_colour=LABEL_RIGHT, occluded=True),
         "Box what you see of the sign, not the branch in front of it, and set `occluded: true`."),
    ]
    for rule, before, after, explanation in examples:
        correction_example_add(
            dataset=dataset, rule_anchor=rule, explanation=explanation, actor=author,
            before=ExampleSide(image=io.BytesIO(before)), after=ExampleSide(image=io.BytesIO(after)),
        )
    correction_example_add(
        dataset=dataset, rule_anchor="rule-truncation", actor=author,
        before=ExampleSide(snippet='{"label": "regulatory", "box": [156, 24, 240, 78], "truncation": "none"}'),
        after=ExampleSide(snippet='{"label": "regulatory", "box": [156, 24, 240, 78], "truncation": "partial"}'),
        explanation="The sign runs off the right edge: box it up to the border and mark the truncation.",
    )


def _access_story(units: dict[str, OrgUnit], people: dict[str, Person]) -> None:
    """Memberships, a merged department, a cross-department request and a departed engineer."""
    for username, _, _, unit, _ in PEOPLE:
        home = effective_unit(units[unit])  # people of a merged unit now belong to its successor
        if people[username].status == Person.Status.ACTIVE and home is not None:
            membership_start(person=people[username], unit=home)
    for username, unit, role in ROLES:
        membership_start(person=people[username], unit=units[unit], role=role)
    governance, _ = Group.objects.get_or_create(name=settings.KURA_GOVERNANCE_GROUP)
    people["sofia"].user.groups.add(governance)
    old_cv = units["Computer Vision (2024)"]
    if old_cv.status == OrgUnit.Status.ACTIVE:
        traffic_lights = Dataset.objects.get(slug="traffic-lights")
        grant_create(target=traffic_lights, level=Level.READ, basis=Grant.Basis.MANUAL, granted_by=people["kai"],
                     grantee_unit=units["Speech"], justification="Speech uses the light states for voice alerts.")
        org_event_apply(plan=plan_merge(sources=[old_cv], successor=units["Perception"], actor=people["hiro"]),
                        actor=people["hiro"], reason="Computer Vision joined Perception in the 2026 reorganisation")
    street_signs = Dataset.objects.get(slug="street-signs-eu")
    if not AccessRequest.objects.filter(requester=people["ravi"]).exists():
        access_request_create(requester=people["ravi"], target=street_signs, level=Level.READ, duration_days=30,
                              purpose="Speech wants sign positions to time spoken warnings in the kiosk demo.")
    if people["jonas"].status == Person.Status.ACTIVE:
        person_depart(person=people["jonas"], actor=people["hiro"], reason="left the company")


def demo_summary() -> str:
    return json.dumps({"datasets": Dataset.objects.count(), "people": Person.objects.count()})
