import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from access.directory import DirectorySyncResult, directory_sync
from access.directory_export import FIELDS, FORMATS, DirectoryFormatError, decode, detect_format, read_records


class Command(BaseCommand):
    help = "Apply a directory export (JSON or CSV) as joiner, mover, leaver and rejoiner events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The export: a JSON list of people or a CSV file with a header row.")
        parser.add_argument("--format", choices=FORMATS, default=None,
                            help="Format of the file (default: from its extension, else from its content).")
        parser.add_argument("--dry-run", action="store_true", help="Show what would change; write nothing.")
        parser.add_argument("--json", action="store_true", help="Print the full summary as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            content = decode(path.read_bytes())
            records = read_records(content, options["format"] or detect_format(content, path.name))
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from error
        except DirectoryFormatError as error:
            raise CommandError(str(error)) from error
        result = directory_sync(records=records, actor=None, dry_run=options["dry_run"],
                                source=f"sync_directory {path.name}")
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        else:
            self.stdout.write("\n".join(summary_lines(result)))


def summary_lines(result: DirectorySyncResult) -> list[str]:
    lines = ["Dry run: nothing was written." if result.dry_run else "Directory sync applied."]
    lines.append(", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in result.counts().items()))
    for change in result.changes:
        details = "; ".join(
            f"{name} {value['before'] or '—'} → {value['after'] or '—'}" for name, value in change["changes"].items()
        )
        lines.append(f"  {change['kind']:<9} {change['external_id']}" + (f"  ({details})" if details else ""))
    for department, people in result.unmapped_departments.items():
        who = "1 person" if len(people) == 1 else f"{len(people)} people"
        lines.append(f"  unmapped department {department!r} ({who}): add an org unit alias to map it")
    if result.ignored_fields:
        lines.append(f"  ignored columns (Kura reads {', '.join(FIELDS)}): {', '.join(result.ignored_fields)}")
    for error in result.errors:
        where = f"row {error.row}" + (f" ({error.external_id})" if error.external_id else "")
        lines.append(f"  error {where}: {error.message}")
    return lines
