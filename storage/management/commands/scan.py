import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from storage.models import ScanRun, StorageConnection
from storage.scanning import scan_request, scan_run_inline
from storage.selectors import run_progress

BAR_WIDTH = 30


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} PB"


def _bar(done: float) -> str:
    filled = int(done * BAR_WIDTH)
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "


def progress_line(run: ScanRun) -> str:
    progress = run_progress(run)
    if not progress.shards_total:  # a DVC remote's scan reads its .dir manifests before planning any shard
        run.refresh_from_db(fields=["manifests_wanted", "manifests_done"])
        if run.manifests_wanted:
            return _bar(run.manifests_done / run.manifests_wanted) + (
                f".dir manifests {run.manifests_done:,}/{run.manifests_wanted:,}")
    parts = [f"{progress.objects:,} objects", human_bytes(progress.bytes),
             f"shards {progress.shards_done + progress.shards_failed}/{progress.shards_total}"]
    if progress.rate_per_second:
        parts.append(f"{progress.rate_per_second:,.0f}/s")
    if progress.eta_seconds is not None:
        parts.append(f"ETA {time.strftime('%H:%M:%S', time.gmtime(progress.eta_seconds))}")
    if run.expected_objects:
        done = min(1.0, progress.objects / run.expected_objects)
    elif progress.shards_total:
        done = (progress.shards_done + progress.shards_failed) / progress.shards_total
    else:
        done = 0.0
    return _bar(done) + " · ".join(parts)


class Command(BaseCommand):
    help = "Scan a storage connection now, in this process, with a progress bar (resumes an interrupted scan)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("connection", help="Connection name or id.")

    def handle(self, *args: Any, **options: Any) -> None:
        ref = options["connection"]
        connection = StorageConnection.objects.filter(name=ref).first()
        if connection is None and str(ref).isdigit():
            connection = StorageConnection.objects.filter(pk=int(ref)).first()
        if connection is None:
            raise CommandError(f"No storage connection '{ref}'.")
        run = scan_request(connection=connection, trigger="cli")
        interactive = sys.stderr.isatty()

        def show(objects: int, size: int) -> None:
            line = progress_line(run)
            if interactive:
                self.stderr.write("\r" + line, ending="")
            else:
                self.stderr.write(line)

        self.stdout.write(f"Scanning {connection.name} ({', '.join(connection.roots)}), run {run.pk}…")
        run = scan_run_inline(run=run, progress=show)
        if interactive:
            self.stderr.write("")
        self.stdout.write(progress_line(run))
        for error in run.errors:
            self.stderr.write(self.style.ERROR(f"  {error['root']}{error['prefix']}: {error['message']}"))
        counts = dict(connection.findings.filter(last_run=run).values_list("kind").annotate(n=Count("id")))
        summary = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items())) or "nothing to report"
        style = self.style.SUCCESS if run.status == ScanRun.Status.SUCCEEDED else self.style.WARNING
        self.stdout.write(style(f"Scan {run.status}: {summary}."))
