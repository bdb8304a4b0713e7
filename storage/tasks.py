from celery import shared_task

from storage.dvc.git_history import GitError
from storage.dvc.indexer import IndexingInProgress, training_repo_index
from storage.models import TrainingRepo


@shared_task(name="storage.tasks.index_training_repo", autoretry_for=(GitError,), retry_backoff=True, max_retries=3)
def index_training_repo(repo_id: int) -> int | None:
    """Index one training repository; returns how many commits this run read."""
    repo = TrainingRepo.objects.filter(pk=repo_id).first()
    if repo is None:
        return None
    try:
        return training_repo_index(repo=repo).commits_read
    except IndexingInProgress:
        return None  # the run holding the repository will pick up what is new
