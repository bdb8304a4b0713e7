from celery import shared_task

from storage.dvc.git_history import GitError
from storage.dvc.indexer import IndexingInProgress, training_repo_index
from storage.dvc.versions import versions_refresh_for_repo
from storage.models import TrainingRepo


@shared_task(name="storage.tasks.index_training_repo", autoretry_for=(GitError,), retry_backoff=True, max_retries=3)
def index_training_repo(repo_id: int) -> int | None:
    """Index one training repository, then version its datasets; returns how many commits this run read."""
    repo = TrainingRepo.objects.filter(pk=repo_id).first()
    if repo is None:
        return None
    try:
        result = training_repo_index(repo=repo)
    except IndexingInProgress:
        return None  # the run holding the repository will pick up what is new
    if result.references_added:
        versions_refresh_for_repo(repo=repo)
    return result.commits_read


@shared_task(name="storage.tasks.index_all_training_repos")
def index_all_training_repos() -> int:
    repo_ids = list(TrainingRepo.objects.values_list("pk", flat=True))
    for repo_id in repo_ids:
        index_training_repo.delay(repo_id)
    return len(repo_ids)
