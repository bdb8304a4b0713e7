"""A dataset's documentation as a Hugging Face dataset card (``README.md``): YAML metadata, then the sections of
the Hub's dataset card template (``huggingface_hub/templates/datasetcard_template.md``).

Metadata (the Hub's ``datasetcard.md`` spec): ``pretty_name``; ``license`` — the Hub's identifier when the
licence is one it lists, else ``other`` with ``license_name``, ``license_link`` and the text as
``license_details``; ``tags``; ``size_categories`` from the version's file count; ``viewer: false``, because the
data stays in the storage Kura catalogs and the Hub would have nothing to preview. Storage locations and the
manifest link appear only when the document carries them (the caller may read the data).
"""

import re
from typing import Any

import yaml

from catalog.documentation.document import DatasetDocument
from catalog.documentation.licences import licence_of

MEDIA_TYPE = "text/markdown"
MISSING = "[More Information Needed]"  # the template's own marker for an unanswered section
# The Hub's size categories, by the upper bound of each.
SIZE_CATEGORIES = tuple((10 ** (3 + step), name) for step, name in enumerate((
    "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "100M<n<1B", "1B<n<10B",
    "10B<n<100B", "100B<n<1T",
)))
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>#|~!])")


class _Key(str):
    """A metadata key: written plain, unlike every value."""


class _CardDumper(yaml.SafeDumper):
    """Writes every string value double-quoted with escapes, so that a colon, quote, ``#``, leading ``-``, line
    break, ``yes`` or ``1e3`` in a name, tag or licence stays the same text to any YAML 1.1 or 1.2 reader."""


def _quoted(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')


def _plain(dumper: yaml.SafeDumper, key: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(key))


_CardDumper.add_representer(str, _quoted)
_CardDumper.add_representer(_Key, _plain)


def hf_card(document: DatasetDocument) -> str:
    front_matter = yaml.dump(
        {_Key(key): value for key, value in card_metadata(document).items()},
        Dumper=_CardDumper, sort_keys=False, allow_unicode=True, width=10**9,
    )
    return f"---\n{front_matter}---\n\n" + "\n\n".join(_body(document)) + "\n"


def card_metadata(document: DatasetDocument) -> dict[str, Any]:
    metadata: dict[str, Any] = {"pretty_name": document.dataset.name}
    licence = licence_of(document.dataset.licence)
    if not licence.text:
        metadata["license"] = "unknown"
    elif licence.hub:
        metadata["license"] = licence.hub
    else:
        metadata.update(
            license="other",
            license_name=licence.name_id,
            license_link=licence.url or document.page_url,  # the catalog entry states the terms in full
            license_details=licence.text,
        )
    if document.tags:
        metadata["tags"] = document.tags
    if document.version is not None:
        metadata["size_categories"] = [size_category(document.version.version.file_count)]
    metadata["viewer"] = False
    return metadata


def size_category(count: int) -> str:
    return next((name for bound, name in SIZE_CATEGORIES if count < bound), "n>1T")


def _inline(text: str) -> str:
    """One line of plain text inside markdown: whitespace collapsed, markdown punctuation escaped."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def _code(text: str) -> str:
    """A code span that holds any text, backticks included."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if len(fence) > 1 else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _answer(*texts: str) -> str:
    return "\n\n".join(text.strip() for text in texts if text.strip()) or MISSING


def _body(document: DatasetDocument) -> list[str]:
    dataset = document.dataset
    blocks = [f"# Dataset Card for {_inline(dataset.name)}", dataset.purpose.strip()]
    if document.warnings:
        blocks.append("\n".join(f"> {' '.join(warning.split())}" for warning in document.warnings))
    blocks += _details(document)
    blocks += [
        "## Uses", "### Direct Use", dataset.purpose.strip(),
        "### Out-of-Scope Use", _answer(dataset.known_limitations),
        "## Dataset Structure", _answer(dataset.composition), *_structure(document),
        "## Dataset Creation", "### Curation Rationale", dataset.purpose.strip(),
        "### Source Data", "#### Data Collection and Processing",
        _answer(*(f"**{title}.** {text.strip()}" for title, text in (
            ("Collection", dataset.collection_process), ("Preprocessing", dataset.preprocessing)) if text.strip())),
        "### Annotations", "#### Annotation process", _annotation_process(document),
        "### Personal and Sensitive Information", _answer(dataset.sensitive_information),
        f"Classification in the catalog: {dataset.get_classification_display()}.",
        "## Bias, Risks, and Limitations", _answer(dataset.known_biases, dataset.known_limitations),
    ]
    if document.warnings:
        blocks += ["### Recommendations", "Do not start new work on this dataset. " + " ".join(document.warnings)]
    blocks += ["## More Information", "### Maintenance", _answer(dataset.maintenance_plan)]
    blocks += _authors_and_contact(document)
    return blocks


def _details(document: DatasetDocument) -> list[str]:
    dataset = document.dataset
    facts = [
        f"- **Curated by:** {_inline(dataset.owner.display_name)} ({_inline(dataset.owning_unit.name)})",
        f"- **Shared by:** {_inline(dataset.owning_unit.name)}",
        f"- **License:** {_inline(dataset.licence) or MISSING}",
        f"- **Status:** {dataset.get_status_display()}",
    ]
    if document.version is not None:
        version = document.version.version
        published = f", published {version.published_at:%Y-%m-%d}" if version.published_at else ""
        facts.append(f"- **Version:** [{_inline(version.label)}]({document.version.page_url}){published}, "
                     f"manifest digest `sha256:{version.digest}`")
    sources = [f"- **Catalog entry:** {document.page_url}", f"- **API:** {document.api_url}"]
    if dataset.training_repo_url:
        path = f" (path {_code(dataset.training_repo_path)})" if dataset.training_repo_path else ""
        sources.append(f"- **Training code:** {dataset.training_repo_url}{path}")
    if document.rules is not None:
        sources.append(f"- **Annotation rules:** {document.rules_url}")
    if document.successor_url:
        sources.append(f"- **Superseded by:** {document.successor_url}")
    description = dataset.description.strip() or dataset.purpose.strip()
    return ["## Dataset Details", "### Dataset Description", description, "\n".join(facts),
            "### Dataset Sources", "\n".join(sources)]


def _structure(document: DatasetDocument) -> list[str]:
    blocks = []
    if document.version is not None:
        version = document.version.version
        summary = (f"Version {_inline(version.label)} holds {version.file_count:,} files, {version.total_bytes:,} "
                   f"bytes in total. Its manifest digest, the sha256 of its sorted file list, is "
                   f"`sha256:{version.digest}`.")
        if document.can_read:
            summary += f" The file list with sizes and content hashes: {document.version.manifest_url}"
        blocks.append(summary)
    if document.locations:
        blocks += ["### Storage Locations", "\n".join(
            f"- {_code(location.uri)} ({location.get_role_display()})"
            + (f": {_inline(location.note)}" if location.note else "")
            for location in document.locations
        )]
    return blocks


def _annotation_process(document: DatasetDocument) -> str:
    rules = document.rules
    if rules is None:
        return MISSING
    lines = [f"The data is labelled under the dataset's annotation rules, revision {rules.number} of "
             f"{rules.created_at:%Y-%m-%d}: {document.rules_url}"]
    version = document.version.version if document.version else None
    if version is not None and version.guideline_revision and version.guideline_revision != rules.number:
        lines.append(f"Version {_inline(version.label)} was labelled under revision {version.guideline_revision}.")
    classes = [entry for entry in rules.label_schema.get("classes", []) if isinstance(entry, dict)]
    if classes:
        lines.append("Label classes:\n\n" + "\n".join(
            f"- **{_inline(str(entry.get('name', '')))}**: {_inline(str(entry.get('definition', '')))}"
            for entry in classes
        ))
    return "\n\n".join(lines)


def _authors_and_contact(document: DatasetDocument) -> list[str]:
    dataset = document.dataset
    contacts = [f"- **Owner:** {_person(dataset.owner)}"]
    if document.stewards:
        contacts.append(f"- **Stewards:** {', '.join(_person(steward) for steward in document.stewards)}")
    contacts.append(f"- **Unit:** {_inline(dataset.owning_unit.name)}")
    return [
        "## Dataset Card Authors",
        f"Generated by Kura from the catalog entry {document.page_url} on {document.generated_at:%Y-%m-%d %H:%M} UTC.",
        "## Dataset Card Contact", "\n".join(contacts),
    ]


def _person(person: Any) -> str:
    name = _inline(person.display_name)
    return f"[{name}](mailto:{person.email})" if person.email else name
