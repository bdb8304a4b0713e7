"""What changed between two guideline revisions: the rules' text line by line, and the label schema."""

import difflib
from dataclasses import dataclass, field
from typing import Any, Literal

from annotations.models import GuidelineRevision

LineKind = Literal["same", "added", "removed"]


@dataclass(frozen=True)
class DiffLine:
    kind: LineKind
    old_number: int | None
    new_number: int | None
    text: str


@dataclass(frozen=True)
class AttributeChange:
    name: str
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(frozen=True)
class ClassChange:
    name: str
    definition_before: str
    definition_after: str
    attributes_added: list[dict[str, Any]] = field(default_factory=list)
    attributes_removed: list[dict[str, Any]] = field(default_factory=list)
    attributes_changed: list[AttributeChange] = field(default_factory=list)
    other_changed: list[str] = field(default_factory=list)  # e.g. colour or examples of the class

    @property
    def definition_changed(self) -> bool:
        return self.definition_before != self.definition_after


@dataclass(frozen=True)
class SchemaDiff:
    classes_added: list[dict[str, Any]]
    classes_removed: list[dict[str, Any]]
    classes_changed: list[ClassChange]

    @property
    def unchanged(self) -> bool:
        return not (self.classes_added or self.classes_removed or self.classes_changed)


@dataclass(frozen=True)
class GuidelineDiff:
    from_number: int
    to_number: int
    body: list[DiffLine]
    lines_added: int
    lines_removed: int
    schema: SchemaDiff

    @property
    def body_unchanged(self) -> bool:
        return not (self.lines_added or self.lines_removed)


def body_diff(old: str, new: str) -> list[DiffLine]:
    old_lines, new_lines = old.splitlines(), new.splitlines()
    lines: list[DiffLine] = []
    # autojunk: without it, lines repeated throughout (blank lines between paragraphs) make matching quadratic, and
    # the guideline page diffs on every view (20,000 lines: 46 s). It only applies from 200 lines on.
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines)
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag == "equal":
            lines.extend(
                DiffLine("same", old_start + offset + 1, new_start + offset + 1, old_lines[old_start + offset])
                for offset in range(old_end - old_start)
            )
            continue
        lines.extend(DiffLine("removed", number + 1, None, old_lines[number]) for number in range(old_start, old_end))
        lines.extend(DiffLine("added", None, number + 1, new_lines[number]) for number in range(new_start, new_end))
    return lines


def _by_name(items: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(items, list):
        return {}
    return {item["name"]: item for item in items if isinstance(item, dict) and isinstance(item.get("name"), str)}


def _class_change(name: str, before: dict[str, Any], after: dict[str, Any]) -> ClassChange | None:
    old_attributes, new_attributes = _by_name(before.get("attributes")), _by_name(after.get("attributes"))
    change = ClassChange(
        name=name,
        definition_before=str(before.get("definition", "")),
        definition_after=str(after.get("definition", "")),
        attributes_added=[new_attributes[key] for key in new_attributes if key not in old_attributes],
        attributes_removed=[old_attributes[key] for key in old_attributes if key not in new_attributes],
        attributes_changed=[
            AttributeChange(key, old_attributes[key], new_attributes[key])
            for key in new_attributes
            if key in old_attributes and old_attributes[key] != new_attributes[key]
        ],
        other_changed=sorted(
            key for key in (set(before) | set(after)) - {"name", "definition", "attributes"}
            if before.get(key) != after.get(key)
        ),
    )
    unchanged = not (
        change.definition_changed or change.attributes_added or change.attributes_removed
        or change.attributes_changed or change.other_changed
    )
    return None if unchanged else change


def schema_diff(old: Any, new: Any) -> SchemaDiff:
    old_classes = _by_name((old or {}).get("classes") if isinstance(old, dict) else None)
    new_classes = _by_name((new or {}).get("classes") if isinstance(new, dict) else None)
    changed = [
        change
        for name in new_classes
        if name in old_classes and (change := _class_change(name, old_classes[name], new_classes[name])) is not None
    ]
    return SchemaDiff(
        classes_added=[new_classes[name] for name in new_classes if name not in old_classes],
        classes_removed=[old_classes[name] for name in old_classes if name not in new_classes],
        classes_changed=changed,
    )


def guideline_diff(old: GuidelineRevision, new: GuidelineRevision) -> GuidelineDiff:
    lines = body_diff(old.body, new.body)
    return GuidelineDiff(
        from_number=old.number,
        to_number=new.number,
        body=lines,
        lines_added=sum(line.kind == "added" for line in lines),
        lines_removed=sum(line.kind == "removed" for line in lines),
        schema=schema_diff(old.label_schema, new.label_schema),
    )
