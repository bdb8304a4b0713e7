"""The dataset's documentation, laid out as the sections of "Datasheets for Datasets" (Gebru et al.).

One description of the sections serves the form, the dataset page, the API and the exports, so a field is
named, explained and mapped to Croissant's Responsible AI vocabulary (RAI 1.0) in one place. Motivation is the
dataset's ``purpose`` and labelling is its annotation rules; both live elsewhere and are only referred to here.
"""

from dataclasses import dataclass

LICENCE_MAX_LENGTH = 200


@dataclass(frozen=True)
class DatasheetField:
    name: str  # the Dataset field
    label: str
    help_text: str
    rai: str = ""  # the Croissant RAI property that carries it ("" when another property does)
    max_length: int | None = None  # a one-line answer of at most this many characters; else markdown text

    @property
    def is_markdown(self) -> bool:
        return self.max_length is None


@dataclass(frozen=True)
class DatasheetSection:
    title: str
    fields: tuple[DatasheetField, ...]


SECTIONS = (
    DatasheetSection(
        "Composition",
        (
            DatasheetField(
                "composition",
                "What the data consists of",
                "What one instance is, how many there are, splits, what is missing or noisy.",
            ),
            DatasheetField(
                "sensitive_information",
                "Personal or sensitive information",
                "Faces, names, health data, locations… and how they are protected. Say 'none' if there is none.",
                "rai:personalSensitiveInformation",
            ),
        ),
    ),
    DatasheetSection(
        "Collection",
        (
            DatasheetField(
                "collection_process",
                "How it was collected",
                "Sources, sensors or vendors, time frame, sampling, consent.",
                "rai:dataCollection",
            ),
        ),
    ),
    DatasheetSection(
        "Preprocessing",
        (
            DatasheetField(
                "preprocessing",
                "Cleaning and preprocessing",
                "What was filtered, resized, de-duplicated or anonymised, and with which code.",
                "rai:dataPreprocessingProtocol",
            ),
        ),
    ),
    DatasheetSection(
        "Uses",
        (
            DatasheetField(
                "known_biases",
                "Known biases",
                "Groups, places or conditions that are over- or under-represented.",
                "rai:dataBiases",
            ),
            DatasheetField(
                "known_limitations",
                "Limitations and uses to avoid",
                "What the data must not be used for, and where models trained on it fail.",
                "rai:dataLimitations",
            ),
        ),
    ),
    DatasheetSection(
        "Distribution",
        (
            DatasheetField(
                "licence",
                "Licence or terms",
                "An SPDX identifier (e.g. CC-BY-4.0), a licence URL, or the internal terms.",
                max_length=LICENCE_MAX_LENGTH,
            ),
        ),
    ),
    DatasheetSection(
        "Maintenance",
        (
            DatasheetField(
                "maintenance_plan",
                "Maintenance plan",
                "Who updates it, how often, and how errors are reported and fixed.",
                "rai:dataReleaseMaintenancePlan",
            ),
        ),
    ),
)

FIELDS = tuple(field for section in SECTIONS for field in section.fields)
FIELD_NAMES = tuple(field.name for field in FIELDS)


@dataclass(frozen=True)
class Answer:
    field: DatasheetField
    text: str


def answered_sections(dataset: object) -> list[tuple[str, list[Answer]]]:
    """The sections that have at least one answer, each with its answered fields, in the datasheet's order."""
    sections = []
    for section in SECTIONS:
        answers = [Answer(field, text) for field in section.fields if (text := getattr(dataset, field.name))]
        if answers:
            sections.append((section.title, answers))
    return sections


def unanswered_count(dataset: object) -> int:
    return sum(1 for name in FIELD_NAMES if not getattr(dataset, name))
