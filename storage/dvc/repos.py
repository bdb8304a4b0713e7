"""Linking training repositories to datasets, and reading them back as a given person may see them."""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Prefetch, QuerySet

from access.audit import audit_record
from access.models import Person
from catalog.models import Dataset
from storage.models import IndexingWarning, TrainingRepo

# How the indexing task's warnings about hashes it could not version begin (storage.dvc.versions writes them).
NO_VERSION_WARNING = "No dataset version from "


def _validate(repo: TrainingRepo) -> None:
    if not repo.url:
        raise ValidationError({"url": "Give the repository's git URL or local path."})
    if TrainingRepo.objects.filter(name=repo.name).exclude(pk=repo.pk).exists():
        raise ValidationError({"name": f"A training repository is already called '{repo.name}'."})
    # One history indexed twice would give every DVC object two explanations and every dataset two version sets.
    same = _same_repository(repo.url)
    for other_name, other_url in TrainingRepo.objects.exclude(pk=repo.pk).values_list("name", "url"):
        if _same_repository(other_url) == same:
            raise ValidationError({"url": f"This repository is already linked as '{other_name}'."})
    repo.full_clean(exclude=["datasets"], validate_unique=False)


def _same_repository(url: str) -> str:
    """A URL as git would reach the same repository: without a trailing slash or '.git'."""
    return url.strip().rstrip("/").removesuffix(".git").rstrip("/")


@transaction.atomic
def training_repo_create(
    *, actor: Person | None, name: str, url: str, datasets: Iterable[Dataset] = ()
) -> TrainingRepo:
    repo = TrainingRepo(name=name.strip(), url=url.strip())
    _validate(repo)
    repo.save()
    repo.datasets.set(list(datasets))
    audit_record(actor=actor, action="training_repo.linked", target=repo, after={"name": repo.name, "url": repo.url})
    return repo


@transaction.atomic
def training_repo_update(*, repo: TrainingRepo, actor: Person | None, name: str, url: str) -> TrainingRepo:
    """Rename or re-point a repository; its index stays (a new URL for the same history just fetches)."""
    repo = TrainingRepo.objects.select_for_update().get(pk=repo.pk)
    before = {"name": repo.name, "url": repo.url}
    repo.name, repo.url = name.strip(), url.strip()
    _validate(repo)
    repo.save(update_fields=["name", "url"])
    after = {"name": repo.name, "url": repo.url}
    if after != before:
        audit_record(actor=actor, action="training_repo.changed", target=repo, before=before, after=after)
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


def training_repo_page_rows(*, user: Any) -> "QuerySet[TrainingRepo]":
    """``training_repo_list`` with ``warning_count`` and ``version_problems``: why committed hashes got no dataset
    version, the warnings a person linking the repository must act on (push the data, free a label)."""
    problems = IndexingWarning.objects.filter(message__startswith=NO_VERSION_WARNING).order_by("path", "-created_at")
    return training_repo_list(user=user).annotate(warning_count=Count("warnings")).prefetch_related(
        Prefetch("warnings", queryset=problems, to_attr="version_problems")
    )


def training_repo_find(key: str) -> TrainingRepo | None:
    """By id, name or URL (what an operator types at the command line)."""
    repos = TrainingRepo.objects.all()
    if key.isdigit():
        found = repos.filter(pk=int(key)).first()
        if found is not None:
            return found
    return repos.filter(name=key).first() or repos.filter(url=key).first()
