from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage.dvc.git_history import GitError
from storage.dvc.indexer import IndexingInProgress, training_repo_index
from storage.dvc.repos import training_repo_find


class Command(BaseCommand):
    help = "Index a linked training repository now (mirror, then read new commits for DVC outputs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("repo", help="The repository's id, name or URL.")
        parser.add_argument("--no-fetch", action="store_true", help="Index the existing mirror without fetching.")

    def handle(self, *args: Any, **options: Any) -> None:
        repo = training_repo_find(options["repo"])
        if repo is None:
            raise CommandError(f"No training repository with id, name or URL {options['repo']!r}.")
        try:
            result = training_repo_index(repo=repo, fetch=not options["no_fetch"])
        except (GitError, IndexingInProgress) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{repo.name}: {result.commits_read} commits read, {result.references_added} outputs recorded, "
            f"{result.warnings_added} warnings, {result.live_references} live, "
            f"{result.unreachable_references} from unreachable commits."
        )
