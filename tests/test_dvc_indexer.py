"""Indexing real git repositories built in the test: all refs, all history, incremental, never aborting."""

import gc
import subprocess

import pytest
from django.core.exceptions import ValidationError

from storage.dvc import indexer
from storage.dvc.indexer import training_repo_index
from storage.dvc.repos import training_repo_create
from storage.models import DvcImport, DvcReference, DvcRemoteConfig, IndexingWarning, TrainingRepo
from tests.dvc_builders import GitRepo, dvc_config, dvc_file, md5_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def repo(history):
    return training_repo_create(actor=None, name="vision/detector", url=str(history.repo.path))


def _rows(repo):
    return {
        (ref.path, ref.hash_text): ref
        for ref in DvcReference.objects.filter(repo=repo)
    }


def test_full_index_records_every_output_with_its_commit_author_and_liveness(history, repo):
    result = training_repo_index(repo=repo)
    c = history.commits
    refs = DvcReference.objects.filter(repo=repo).order_by("authored_at", "path")
    summary = [(ref.commit, ref.path, ref.hash_text, ref.hash_name, ref.stage, ref.author_name, ref.live_refs)
               for ref in refs]
    main, v1, feature, experiment = "refs/heads/main", "refs/tags/v1", "refs/heads/feature", "refs/heads/experiment"
    assert summary == [
        (c["c1"], "data/images", history.images_v1.md5 + ".dir", "", "", "Alice Able", []),
        (c["c2"], "data/images", history.images_v2.md5 + ".dir", "md5", "", "Bob Baker", [feature, main, v1]),
        (c["c2"], "metrics.json", md5_of(history.metrics), "md5", "train", "Bob Baker",
         [experiment, feature, main, v1]),
        (c["c2"], "model.pkl", md5_of(history.model), "md5", "train", "Bob Baker", [experiment, feature, main, v1]),
        (c["c3"], "data/images", history.images_v3.md5 + ".dir", "md5", "", "Carol Cook", [experiment]),
        (c["c4"], "data/extra.bin", md5_of(history.extra), "md5", "", "Dave Dunn", [feature, main]),
        (c["c4"], "data/labels.csv", md5_of(history.labels_feature), "md5", "", "Dave Dunn", [feature]),
        (c["c5"], "data/labels.csv", md5_of(history.labels_main), "md5", "", "Alice Able", []),
        # The merge commit alone introduced this hash (a conflict resolved to new data); it carried nothing else.
        (c["merge"], "data/labels.csv", md5_of(history.labels_merged), "md5", "", "Erin Ember", [main]),
        (c["c7"], "données/échantillon.csv", md5_of(history.sample), "md5", "", "Frank Fürst", [main]),
        (c["c7"], "external/registry.xml", md5_of(history.registry), "md5", "", "Frank Fürst", [main]),
        (c["c7"], "pipelines/legacy/prepared", history.prepared.md5 + ".dir", "", "prepare", "Frank Fürst", [main]),
    ]
    rows = _rows(repo)
    images_v1 = rows[("data/images", history.images_v1.md5 + ".dir")]
    assert (images_v1.is_dir, images_v1.md5, images_v1.size, images_v1.nfiles) == (
        True, history.images_v1.md5, history.images_v1.size, 2
    )
    assert images_v1.source_path == "data/images.dvc"
    assert images_v1.author_email == "alice@example.com"
    assert images_v1.authored_at.isoformat() == "2024-01-01T10:00:00+00:00"
    assert rows[("metrics.json", md5_of(history.metrics))].cache is False
    assert rows[("model.pkl", md5_of(history.model))].source_path == "dvc.lock"
    assert rows[("pipelines/legacy/prepared", history.prepared.md5 + ".dir")].source_path == "pipelines/legacy/dvc.lock"
    # The branch deleted before indexing was never walked.
    assert not DvcReference.objects.filter(md5=md5_of(history.scratch)).exists()
    assert all(ref.reachable for ref in refs)
    assert result.commits_read == 7  # c1, c2, c3, c4, c5, the merge (once, though git prints it per parent), c7
    repo.refresh_from_db()
    assert repo.status == TrainingRepo.Status.READY
    assert repo.indexed_heads["refs/tags/v1"] == c["c2"]
    assert repo.default_branch == "refs/heads/main"


def test_malformed_file_in_old_history_is_a_warning_not_a_failure(history, repo):
    training_repo_index(repo=repo)
    warnings = list(IndexingWarning.objects.filter(repo=repo).values_list("commit", "path"))
    assert warnings == [(history.commits["c1"], "broken.dvc")]
    message = IndexingWarning.objects.get(repo=repo).message
    assert message.startswith("broken.dvc: not valid YAML")


def test_import_and_remotes_are_recorded(history, repo):
    training_repo_index(repo=repo)
    imported = DvcImport.objects.get(repo=repo)
    assert (imported.path, imported.imported_path, imported.source_url, imported.rev_lock, imported.md5) == (
        "external/registry.xml", "data/registry.xml", "https://github.com/example/dataset-registry",
        "f31f5c4cdae787b4bdeb97a717687d44667d9e62", md5_of(history.registry),
    )
    remote = DvcRemoteConfig.objects.get(repo=repo)
    assert (remote.name, remote.url, remote.is_default, remote.is_current, remote.first_commit) == (
        "storage", str(history.remote.path), True, True, history.commits["c1"]
    )


def test_reindex_reads_only_new_commits(history, repo):
    first = training_repo_index(repo=repo)
    assert first.commits_read == 7
    unchanged = training_repo_index(repo=repo)
    assert (unchanged.commits_read, unchanged.references_added, unchanged.blobs_read) == (0, 0, 0)

    model_v2 = b"model-weights-2"
    text = (history.repo.path / "dvc.lock").read_text().replace(md5_of(history.model), md5_of(model_v2))
    history.repo.write("dvc.lock", text)
    new_commit = history.repo.commit("Retrain", author="Gina Gray", date="2024-06-01T10:00:00+00:00")
    again = training_repo_index(repo=repo)
    assert (again.commits_read, again.references_added) == (1, 1)
    new = DvcReference.objects.get(repo=repo, md5=md5_of(model_v2))
    assert (new.commit, new.author_name, new.stage, new.live_refs) == (new_commit, "Gina Gray", "train",
                                                                        ["refs/heads/main"])
    old = DvcReference.objects.get(repo=repo, md5=md5_of(history.model))
    assert old.live_refs == ["refs/heads/experiment", "refs/heads/feature", "refs/tags/v1"]
    repo.refresh_from_db()
    assert (repo.commits_indexed, repo.last_run_commits) == (8, 1)


def test_branch_deleted_after_indexing_marks_its_outputs_unreachable(history, repo):
    history.repo.git("checkout", "-q", "-b", "tmp")
    tmp_data = b"tmp-data"
    history.repo.write("tmp.dvc", dvc_file(md5_of(tmp_data), len(tmp_data), "tmp.bin"))
    history.repo.commit("Temp work", author="Tom Temp", date="2024-07-01T10:00:00+00:00")
    history.repo.git("checkout", "-q", "main")
    training_repo_index(repo=repo)
    assert DvcReference.objects.get(md5=md5_of(tmp_data)).reachable is True

    history.repo.git("branch", "-q", "-D", "tmp")
    result = training_repo_index(repo=repo)
    gone = DvcReference.objects.get(md5=md5_of(tmp_data))
    assert (gone.reachable, gone.is_live, gone.live_refs) == (False, False, [])
    assert result.unreachable_references == 1
    assert DvcReference.objects.filter(repo=repo, reachable=False).count() == 1


def test_unreachable_upstream_fails_the_run_with_a_readable_error(tmp_path, settings):
    settings.KURA_REPO_MIRROR_ROOT = tmp_path / "mirrors"
    repo = training_repo_create(actor=None, name="gone/repo", url=str(tmp_path / "does-not-exist"))
    with pytest.raises(Exception, match="git clone failed"):
        training_repo_index(repo=repo)
    repo.refresh_from_db()
    assert repo.status == TrainingRepo.Status.FAILED
    assert "does-not-exist" in repo.last_error


def test_mirror_is_bare_and_uses_one_cat_file_process(history, repo, monkeypatch):
    started = []
    real_popen = subprocess.Popen

    def counting_popen(args, *rest, **kwargs):
        started.append(args[:4] if isinstance(args, list) else args)
        return real_popen(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", counting_popen)
    result = training_repo_index(repo=repo)
    cat_files = [args for args in started if "cat-file" in args and any(arg.startswith("--batch") for arg in args)]
    assert len(cat_files) == 1
    assert result.blobs_read > 0
    assert (repo.mirror_path / "HEAD").exists()
    assert not (repo.mirror_path / ".git").exists()


def test_runs_do_not_interleave_but_a_dead_run_is_taken_over(history, repo, settings):
    from datetime import timedelta

    from django.utils import timezone

    from storage.dvc.indexer import IndexingInProgress

    TrainingRepo.objects.filter(pk=repo.pk).update(status="indexing", indexing_started_at=timezone.now())
    with pytest.raises(IndexingInProgress):
        training_repo_index(repo=repo)
    assert not DvcReference.objects.exists()
    settings.KURA_REPO_INDEX_STALE_SECONDS = 60
    TrainingRepo.objects.filter(pk=repo.pk).update(indexing_started_at=timezone.now() - timedelta(minutes=5))
    assert training_repo_index(repo=repo).commits_read == 7
    repo.refresh_from_db()
    assert (repo.status, repo.indexing_started_at) == ("ready", None)


def test_admin_links_a_repository_through_the_services(client, owner, unit, history):
    from access.models import AuditEvent
    from tests.factories import make_dataset, make_person

    staff = make_person("root", unit=unit, staff=True)
    staff.user.is_superuser = True
    staff.user.save()
    client.force_login(staff.user)
    dataset = make_dataset(owner, slug="street-images")
    response = client.post(
        "/admin/storage/trainingrepo/add/",
        {"name": "vision/detector", "url": str(history.repo.path), "datasets": [str(dataset.pk)],
         "remotes-TOTAL_FORMS": "0", "remotes-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    repo = TrainingRepo.objects.get(name="vision/detector")
    assert list(repo.datasets.all()) == [dataset]
    actions = list(AuditEvent.objects.filter(target_id=str(repo.pk)).values_list("action", flat=True))
    assert sorted(actions) == ["training_repo.datasets_changed", "training_repo.linked"]
    refused = client.post(
        "/admin/storage/trainingrepo/add/",
        {"name": "other/repo", "url": "-oProxyCommand=x", "remotes-TOTAL_FORMS": "0", "remotes-INITIAL_FORMS": "0"},
    )
    assert refused.status_code == 200
    assert "may not start with" in refused.content.decode()
    with pytest.raises(ValidationError):
        training_repo_create(actor=None, name="other/repo", url="--upload-pack=touch x")
    assert TrainingRepo.objects.count() == 1


def test_reverting_to_an_older_hash_makes_it_live_again(history, repo):
    training_repo_index(repo=repo)
    labels_main = md5_of(history.labels_main)
    assert DvcReference.objects.get(md5=labels_main).live_refs == []
    history.repo.write("data/labels.dvc", dvc_file(labels_main, len(history.labels_main), "labels.csv"))
    revert = history.repo.commit("Back to the main labels", author="Gina Gray", date="2024-06-01T10:00:00+00:00")
    training_repo_index(repo=repo)
    rows = DvcReference.objects.filter(md5=labels_main).order_by("authored_at")
    assert [(row.commit, row.live_refs) for row in rows] == [
        (history.commits["c5"], ["refs/heads/main"]), (revert, ["refs/heads/main"])
    ]
    assert DvcReference.objects.get(md5=md5_of(history.labels_merged)).live_refs == []


def _snapshot(repo):
    columns = [field.name for field in DvcReference._meta.concrete_fields if field.name not in ("id", "repo")]
    return sorted(DvcReference.objects.filter(repo=repo).values_list(*columns))


def test_walking_indexed_commits_again_adds_nothing_and_fails_nothing(history, repo):
    training_repo_index(repo=repo)
    before = _snapshot(repo)
    # As if the heads that excluded them were gone: every commit is walked again and every row is already there.
    TrainingRepo.objects.filter(pk=repo.pk).update(indexed_heads={})
    repo.refresh_from_db()
    again = training_repo_index(repo=repo)
    assert (again.commits_read, again.references_added) == (7, 0)
    assert _snapshot(repo) == before


def test_rows_of_an_interrupted_run_are_kept_and_not_written_twice(history, repo):
    training_repo_index(repo=repo)
    before = _snapshot(repo)
    # An earlier run wrote some rows, then died before recording its heads.
    DvcReference.objects.filter(repo=repo, commit=history.commits["c7"]).delete()
    TrainingRepo.objects.filter(pk=repo.pk).update(indexed_heads={})
    repo.refresh_from_db()
    again = training_repo_index(repo=repo)
    assert again.references_added == 3  # c7's three outputs, and nothing else twice
    assert _snapshot(repo) == before


def test_a_file_listing_one_output_twice_yields_one_row(history, repo):
    twice = b"twice-data"
    entry = f"- md5: {md5_of(twice)}\n  size: {len(twice)}\n  hash: md5\n  path: twice.bin\n"
    history.repo.write("twice.dvc", "outs:\n" + entry + entry)
    commit = history.repo.commit("Same output twice", author="Gina Gray", date="2024-06-01T10:00:00+00:00")
    training_repo_index(repo=repo)
    assert list(DvcReference.objects.filter(repo=repo, commit=commit).values_list("path", flat=True)) == ["twice.bin"]


def test_a_run_failing_half_way_leaves_no_rows_and_the_next_run_indexes_everything(history, repo, monkeypatch):
    from storage.dvc import indexer

    real_collect = indexer._Walk.collect
    seen = []

    def failing_collect(walk, commit):
        seen.append(commit.sha)
        if len(seen) == 3:
            raise RuntimeError("disk on fire")
        return real_collect(walk, commit)

    monkeypatch.setattr(indexer._Walk, "collect", failing_collect)
    with pytest.raises(RuntimeError, match="disk on fire"):
        training_repo_index(repo=repo)
    assert gc.isenabled()  # paused for the run only
    repo.refresh_from_db()
    assert (repo.status, repo.indexed_heads) == (TrainingRepo.Status.FAILED, {})
    assert not DvcReference.objects.filter(repo=repo).exists()
    monkeypatch.undo()
    assert training_repo_index(repo=repo).references_added == 12


def test_a_branch_pushed_again_makes_its_outputs_reachable_again(history, repo):
    history.repo.git("checkout", "-q", "-b", "tmp")
    tmp_data = b"tmp-data"
    history.repo.write("tmp.dvc", dvc_file(md5_of(tmp_data), len(tmp_data), "tmp.bin"))
    tmp_commit = history.repo.commit("Temp work", author="Tom Temp", date="2024-07-01T10:00:00+00:00")
    history.repo.git("checkout", "-q", "main")
    training_repo_index(repo=repo)
    history.repo.git("branch", "-q", "-D", "tmp")
    training_repo_index(repo=repo)
    assert DvcReference.objects.get(md5=md5_of(tmp_data)).reachable is False

    history.repo.git("branch", "-q", "tmp", tmp_commit)
    result = training_repo_index(repo=repo)
    back = DvcReference.objects.get(md5=md5_of(tmp_data))
    assert (back.reachable, back.live_refs, result.unreachable_references) == (True, ["refs/heads/tmp"], 0)


def test_a_remote_first_commit_is_the_earliest_across_commit_batches(tmp_path, settings, monkeypatch):
    # The walk reads history newest first in batches; the earliest commit naming a remote may sit in any batch.
    monkeypatch.setattr(indexer, "COMMIT_BATCH", 2)
    settings.KURA_LOCAL_ROOTS = [str(tmp_path)]
    git = GitRepo(tmp_path / "repo")
    git.write(".dvc/config", dvc_config({"storage": "/srv/dvc"}, "storage"))
    first = git.commit("configure the remote", date="2024-01-01T10:00:00+00:00")
    for day in range(2, 8):
        git.write("notes.txt", f"day {day}")
        git.write(".dvc/config", dvc_config({"storage": "/srv/dvc"}, "storage") + f"# touched {day}\n")
        git.commit(f"day {day}", date=f"2024-01-0{day}T10:00:00+00:00")
    repo = training_repo_create(actor=None, name="vision/batches", url=str(git.path))

    training_repo_index(repo=repo)

    assert DvcRemoteConfig.objects.get(repo=repo, name="storage").first_commit == first
