"""Linking training repositories to datasets, and reading them back as a given person may see them."""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet

from access.audit import audit_record
from access.models import Person
from catalog.models import Dataset
from storage.models import TrainingRepo


@transaction.atomic
def training_repo_create(
    *, actor: Person | None, name: str, url: str, datasets: Iterable[Dataset] = ()
) -> TrainingRepo:
    name, url = name.strip(), url.strip()
    if not url:
        raise ValidationError({"url": "Give the repository's git URL or local path."})
    if url.startswith("-"):
        raise ValidationError({"url": "A repository URL may not start with '-'."})
    if TrainingRepo.objects.filter(name=name).exists():
        raise ValidationError({"name": f"A training repository is already called '{name}'."})
    repo = TrainingRepo(name=name, url=url)
    repo.full_clean(exclude=["datasets"])
    repo.save()
    repo.datasets.set(list(datasets))
    audit_record(actor=actor, action="training_repo.linked", target=repo, after={"name": name, "url": url})
    return repo


@transaction.atomic
def training_repo_set_datasets(*, repo: TrainingRepo, actor: Person | None, datasets: Iterable[Dataset]) -> None:
    before = sorted(str(pk) for pk in repo.datasets.values_list("pk", flat=True))
    repo.datasets.set(list(datasets))
    after = sorted(str(pk) for pk in repo.datasets.values_list("pk", flat=True))
    if before != after:
        audit_record(
            actor=actor, action="training_repo.datasets_changed", target=repo,
            before={"datasets": before}, after={"datasets": after},
        )  # fmt: skip


def training_repo_list(*, user: Any) -> "QuerySet[TrainingRepo]":
    """Every training repository, with ``visible_datasets``: only the linked datasets ``user`` may see."""
    visible = Dataset.objects.restrict(user, "view").order_by("slug")
    return TrainingRepo.objects.prefetch_related(
        Prefetch("datasets", queryset=visible, to_attr="visible_datasets")
    ).order_by("name")


def training_repo_find(key: str) -> TrainingRepo | None:
    """By id, name or URL (what an operator types at the command line)."""
    repos = TrainingRepo.objects.all()
    if key.isdigit():
        found = repos.filter(pk=int(key)).first()
        if found is not None:
            return found
    return repos.filter(name=key).first() or repos.filter(url=key).first()
