"""Lineage's answer when a dataset is deprecated or archived: which models are affected, and telling their owners."""

from django.conf import settings

from access.models import Person
from catalog.access_selectors import datasets_by_id
from catalog.models import Dataset
from kura.mail import mail_after_commit
from lineage.selectors import models_affected_by_dataset


class LineageRetirementListener:
    def warnings_for(self, dataset: Dataset) -> list[str]:
        models = models_affected_by_dataset(dataset=dataset)
        if not models:
            return []
        names = ", ".join(
            f"{model.name} (owner {model.owner.display_name})" if model.owner else model.name for model in models
        )
        return [f"Models trained on it (directly or downstream): {names}."]

    def dataset_retired(self, dataset: Dataset, actor: Person | None) -> None:
        models = models_affected_by_dataset(dataset=dataset)
        by_owner: dict[Person, list[str]] = {}
        for model in models:
            if model.owner is not None and model.owner.email and model.owner != actor:
                by_owner.setdefault(model.owner, []).append(model.name)
        state = "archived" if dataset.status == Dataset.Status.ARCHIVED else "deprecated"
        messages = []
        for owner, names in by_owner.items():
            # One question per owner answers both: may they see the dataset, and its successor?
            seen = datasets_by_id(user=owner.user, ids=[dataset.pk, dataset.superseded_by_id or dataset.pk])
            if str(dataset.pk) in seen:
                successor = seen.get(str(dataset.superseded_by_id))
                subject, lines = _named_retirement(dataset, state, names, successor.slug if successor else None)
            else:  # trained downstream of a restricted dataset they may not see: told, but not what it is
                subject = f"[Kura] A dataset your models depend on is {state}"
                lines = [
                    f"A restricted dataset that you may not see was {state}. These models you own were trained on "
                    "it, directly or downstream:",
                    "",
                    *(f"  - {name}" for name in names),
                ]
            messages.append((subject, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [owner.email]))
        mail_after_commit(messages)


def _named_retirement(
    dataset: Dataset, state: str, names: list[str], successor_slug: str | None
) -> tuple[str, list[str]]:
    lines = [
        f"Dataset '{dataset.slug}' was {state}. These models you own were trained on it, directly or downstream:",
        "",
        *(f"  - {name}" for name in names),
        "",
    ]
    if dataset.deprecation_note:
        lines += [f"Note: {dataset.deprecation_note.strip()}", ""]
    if successor_slug is not None:
        lines += [f"Use '{successor_slug}' instead.", ""]
    lines.append(f"{settings.KURA_BASE_URL}/datasets/{dataset.slug}/")
    return f"[Kura] {dataset.name} is {state}; your models depend on it", lines
