"""Dataset versions created from the committed hashes of a dvc://repo#path output."""

import pytest

from catalog.manifests import manifest_digest, parse_manifest
from catalog.models import DatasetVersion
from catalog.selectors import version_resolve
from catalog.services import LocationSpec
from storage.dvc.indexer import training_repo_index
from storage.dvc.repos import training_repo_create
from storage.dvc.versions import dataset_versions_from_history
from storage.models import DvcReference
from tests.dvc_builders import dir_object, dvc_file, md5_of
from tests.factories import make_dataset, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(history, owner):
    images = make_dataset(owner, slug="street-images", locations=[LocationSpec(uri="dvc://vision/detector#data/images")])
    repo = training_repo_create(actor=owner, name="vision/detector", url=str(history.repo.path), datasets=[images])
    training_repo_index(repo=repo)
    return images


def _files(directory):
    return [
        {"path": rel, "size": len(data), "hash": f"md5:{md5_of(data)}"} for rel, data in sorted(directory.files.items())
    ]


def _digest(files):
    return manifest_digest(parse_manifest(files))


def test_one_published_version_per_committed_hash_with_manifest_from_the_local_remote(history, dataset, owner):
    h = history
    result = dataset_versions_from_history(dataset=dataset, actor=owner, remote_dir=h.remote.path)
    assert result.skipped == []
    got = [(v.label, v.status, v.source, v.git_commit, v.file_count, v.total_bytes, v.digest) for v in result.created]
    images_v3_entry = [{"path": "images", "size": h.images_v3.size, "hash": f"md5-dir:{h.images_v3.md5}"}]
    assert got == [
        (h.commits["c1"][:8], "published", "dvc", h.commits["c1"], 2, h.images_v1.size, _digest(_files(h.images_v1))),
        ("v1", "published", "dvc", h.commits["c2"], 3, h.images_v2.size, _digest(_files(h.images_v2))),
        # Never pushed to this remote: recorded as the directory's hash only.
        (h.commits["c3"][:8], "published", "dvc", h.commits["c3"], 1, h.images_v3.size, _digest(images_v3_entry)),
    ]
    v1 = DatasetVersion.objects.get(dataset=dataset, label="v1")
    assert list(v1.files.values_list("path", "size", "hash")) == [
        (f["path"], f["size"], f["hash"]) for f in _files(h.images_v2)
    ]
    assert v1.notes.startswith(f"DVC output vision/detector#data/images {h.images_v2.md5}.dir\ncommitted by Bob Baker")
    assert version_resolve(dataset=dataset, label="latest").label == h.commits["c3"][:8]


def test_without_a_remote_each_directory_is_one_entry(history, dataset):
    result = dataset_versions_from_history(dataset=dataset)
    first = result.created[0]
    assert list(first.files.values_list("path", "size", "hash")) == [
        ("images", history.images_v1.size, f"md5-dir:{history.images_v1.md5}")
    ]


def test_idempotent_and_incremental(history, dataset):
    dataset_versions_from_history(dataset=dataset, remote_dir=history.remote.path)
    again = dataset_versions_from_history(dataset=dataset, remote_dir=history.remote.path)
    assert (again.created, again.skipped) == ([], [])
    assert DatasetVersion.objects.filter(dataset=dataset).count() == 3

    images_v4 = dir_object({"z.jpg": b"jpeg-z"})
    history.repo.write("data/images.dvc", dvc_file(images_v4.md5, images_v4.size, "images", nfiles=1))
    commit = history.repo.commit("Images v4", author="Gina Gray", date="2024-06-01T10:00:00+00:00")
    history.repo.git("tag", "v2", date="2024-06-01T10:00:00+00:00")
    history.remote.push_dir(images_v4)
    training_repo_index(repo=dataset.training_repos.get())
    newer = dataset_versions_from_history(dataset=dataset, remote_dir=history.remote.path)
    assert [(v.label, v.git_commit, v.file_count) for v in newer.created] == [("v2", commit, 1)]
    assert version_resolve(dataset=dataset, label="latest").label == "v2"


def test_an_experiments_commit_makes_no_version(history, dataset):
    """``dvc exp run`` keeps its commit under refs/exps/: a trial, not a version CI should resolve as ``latest``."""
    repo = history.repo
    trial = dir_object({"t.jpg": b"jpeg-trial"})
    repo.git("checkout", "-q", "-b", "trial")
    repo.write("data/images.dvc", dvc_file(trial.md5, trial.size, "images", nfiles=1))
    commit = repo.commit("Trial", author="Tess Trial", date="2024-07-01T10:00:00+00:00")
    repo.git("update-ref", "refs/exps/ab/cdef/trial", commit)
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "trial")
    training_repo_index(repo=dataset.training_repos.get())
    assert DvcReference.objects.filter(commit=commit, reachable=True).exists()  # indexed: it explains remote data

    result = dataset_versions_from_history(dataset=dataset, remote_dir=history.remote.path)
    assert commit not in [version.git_commit for version in result.created]
    assert version_resolve(dataset=dataset, label="latest").git_commit == history.commits["c3"]

def test_taken_label_falls_back_to_short_commit(history, dataset):
    make_version(dataset, label="v1")
    result = dataset_versions_from_history(dataset=dataset, remote_dir=history.remote.path)
    assert [v.label for v in result.created] == [c[:8] for c in (history.commits["c1"], history.commits["c2"],
                                                                 history.commits["c3"])]


def test_directory_member_missing_from_the_remote_is_reported_not_guessed(history, dataset):
    (history.remote.path / "files/md5" / md5_of(b"jpeg-c")[:2] / md5_of(b"jpeg-c")[2:]).unlink()
    result = dataset_versions_from_history(dataset=dataset, remote_dir=history.remote.path)
    assert [v.label for v in result.created] == [history.commits["c1"][:8], history.commits["c3"][:8]]
    assert result.skipped == [f"{history.images_v2.md5}.dir: c.jpg ({md5_of(b'jpeg-c')}) is not in the remote"]


def test_indexing_task_versions_located_datasets_from_the_allow_listed_local_remote(
    history, owner, settings, monkeypatch
):
    from storage.tasks import index_all_training_repos, index_training_repo

    settings.KURA_LOCAL_ROOTS = [str(history.remote.path)]
    images = make_dataset(owner, slug="street-images", locations=[LocationSpec(uri="dvc://vision/detector#data/images")])
    repo = training_repo_create(actor=owner, name="vision/detector", url=str(history.repo.path))
    assert index_training_repo.apply(args=[repo.pk]).get() == 7
    assert [(v.label, v.file_count) for v in images.versions.order_by("published_at")] == [
        (history.commits["c1"][:8], 2), ("v1", 3), (history.commits["c3"][:8], 1)
    ]
    assert index_training_repo.apply(args=[repo.pk]).get() == 0
    assert images.versions.count() == 3
    queued = []
    monkeypatch.setattr(index_training_repo, "delay", queued.append)
    assert index_all_training_repos.apply().get() == 1
    assert queued == [repo.pk]


def test_a_dataset_located_in_the_repository_after_it_was_indexed_gets_versions_at_the_next_run(history, owner):
    """Linking comes first and the dataset's dvc:// location is often added later: the next run, which finds no
    new commit, still versions it."""
    from storage.tasks import index_training_repo

    repo = training_repo_create(actor=owner, name="vision/detector", url=str(history.repo.path))
    index_training_repo.apply(args=[repo.pk]).get()
    images = make_dataset(owner, slug="street-images", locations=[LocationSpec(uri="dvc://vision/detector#data/images")])
    assert index_training_repo.apply(args=[repo.pk]).get() == 0  # nothing new upstream
    assert images.versions.count() == 3


def test_a_hash_the_indexing_task_could_not_version_is_shown_on_the_repository_and_retried(
    history, owner, colleague, settings, client
):
    """`git commit` often comes before `dvc push`: the version is not guessed, the person linking the repository
    is told why, and the version appears once the data is in the remote, though no new commit came."""
    from storage.models import IndexingWarning
    from storage.tasks import index_training_repo

    settings.KURA_LOCAL_ROOTS = [str(history.remote.path)]
    missing = history.remote.path / "files/md5" / md5_of(b"jpeg-c")[:2] / md5_of(b"jpeg-c")[2:]
    kept = missing.read_bytes()
    missing.unlink()
    images = make_dataset(owner, slug="street-images", locations=[LocationSpec(uri="dvc://vision/detector#data/images")])
    repo = training_repo_create(actor=owner, name="vision/detector", url=str(history.repo.path))
    index_training_repo.apply(args=[repo.pk]).get()
    assert "v1" not in set(images.versions.values_list("label", flat=True))
    warning = IndexingWarning.objects.get(repo=repo, commit=history.commits["c2"])
    assert warning.path == "data/images"
    assert "c.jpg" in warning.message
    assert "street-images" not in warning.message  # the page is read by people who may not see the dataset
    client.force_login(colleague.user)
    page = client.get("/repos/").content.decode()
    assert "1 committed hash without a dataset version" in page and "c.jpg" not in page  # file names are data
    owner.user.is_staff = True
    owner.user.save()
    client.force_login(owner.user)
    page = client.get("/repos/").content.decode()
    assert "c.jpg" in page and "not in the remote" in page

    missing.write_bytes(kept)  # dvc push, later
    assert index_training_repo.apply(args=[repo.pk]).get() == 0
    assert images.versions.filter(label="v1", git_commit=history.commits["c2"], file_count=3).exists()
    assert not IndexingWarning.objects.filter(repo=repo, commit=history.commits["c2"]).exists()
