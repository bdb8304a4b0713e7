"""Classifying and decoding DVC remote objects against an indexed repository, and the read API."""

import pytest
from django.core.management import call_command

from access.models import Level
from catalog.models import Dataset
from catalog.services import LocationSpec
from storage.dvc.decode import ObjectClass, classify_keys, decode
from storage.dvc.indexer import training_repo_index
from storage.dvc.layout import parse_dir_manifest
from storage.dvc.remote_scan import manifests_refresh
from storage.dvc.repos import training_repo_create
from storage.models import DvcReference, TrainingRepo
from storage.services import connection_set_dvc_repos
from storage.tasks import index_training_repo
from tests.dvc_builders import history_classes, md5_of, object_key
from tests.factories import bearer, grant, make_dataset, make_person
from tests.storage_support import make_local_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def indexed(history, owner):
    images = make_dataset(owner, slug="street-images",
                          locations=[LocationSpec(uri="dvc://vision/detector#data/images")])
    labels = make_dataset(owner, slug="secret-labels", visibility=Dataset.Visibility.RESTRICTED,
                          locations=[LocationSpec(uri="dvc://vision/detector#data/labels.csv")])
    repo = training_repo_create(actor=owner, name="vision/detector", url=str(history.repo.path),
                                datasets=[images, labels])
    training_repo_index(repo=repo)
    return repo


def _dir_members(remote):
    return {key: [entry.md5 for entry in parse_dir_manifest((remote.path / key).read_bytes())]
            for key in remote.object_keys() if key.endswith(".dir")}


def test_every_object_in_a_shared_layout_remote_is_classified_exactly(history, indexed):
    h = history
    keys = h.remote.object_keys()
    classes = classify_keys(keys, dir_members=_dir_members(h.remote))
    assert classes == history_classes(h)
    # Without the .dir manifests, files inside directories have no reference of their own.
    bare = classify_keys(keys)
    assert bare[object_key(md5_of(b"jpeg-c"))] == ObjectClass.UNREFERENCED
    assert bare[object_key(h.images_v2.md5, is_dir=True)] == ObjectClass.LIVE
    # A key in the other layout is a different object: a DVC 3 copy of a DVC 2 directory is not referenced.
    assert classify_keys([object_key(h.images_v1.md5, is_dir=True)]) == {
        object_key(h.images_v1.md5, is_dir=True): ObjectClass.UNREFERENCED
    }
    # Scoped to another repository, nothing here is referenced.
    assert set(classify_keys([object_key(md5_of(h.model))], repo_ids=[indexed.pk + 1000]).values()) == {
        ObjectClass.UNREFERENCED
    }


def test_decode_directory_key_gives_repo_path_commit_author_dataset_and_files(history, indexed, owner):
    h = history
    decoded = decode(object_key(h.images_v2.md5, is_dir=True), user=owner.user, remote_dirs=[h.remote.path])
    assert decoded.classification == ObjectClass.LIVE
    assert decoded.keys == [object_key(h.images_v2.md5, is_dir=True)]
    [reference] = decoded.references
    assert (reference.repo_name, reference.path, reference.stage, reference.source_path, reference.commit,
            reference.author_name, reference.author_email, reference.authored_at.isoformat(), reference.nfiles) == (
        "vision/detector", "data/images", "", "data/images.dvc", h.commits["c2"], "Bob Baker",
        "bob@example.com", "2024-02-01T10:00:00+00:00", 3,
    )
    assert [dataset.slug for dataset in decoded.datasets] == ["street-images"]
    assert [(entry.relpath, entry.md5) for entry in decoded.files] == [
        ("a.jpg", md5_of(b"jpeg-a")), ("b.jpg", md5_of(b"jpeg-b2")), ("c.jpg", md5_of(b"jpeg-c"))
    ]


def test_decode_bare_hash_of_a_dvc2_directory_and_a_stage_output(history, indexed, owner):
    h = history
    old = decode(h.images_v1.md5 + ".dir", user=owner.user, remote_dirs=[h.remote.path])
    assert old.keys == [object_key(h.images_v1.md5, dvc3=False, is_dir=True)]
    assert old.classification == ObjectClass.HISTORICAL
    assert [(entry.relpath) for entry in old.files] == ["a.jpg", "b.jpg"]
    model = decode(md5_of(h.model), user=owner.user)
    assert [(r.stage, r.path, r.source_path, r.live_refs) for r in model.references] == [
        ("train", "model.pkl", "dvc.lock",
         ["refs/heads/experiment", "refs/heads/feature", "refs/heads/main", "refs/tags/v1"])
    ]
    assert model.datasets == []
    assert decode("nothing-like-a-hash", user=owner.user) is None


def test_restricted_dataset_is_decoded_only_for_grantees(history, indexed, owner, unit):
    stranger = make_person("stan", unit=unit)
    merged = md5_of(history.labels_merged)
    assert [d.slug for d in decode(merged, user=owner.user).datasets] == ["secret-labels"]
    hidden = decode(merged, user=stranger.user)
    assert hidden.datasets == []
    assert hidden.references[0].author_name == "Erin Ember"  # repository facts are not the dataset's secret
    grant(Dataset.objects.get(slug="secret-labels"), stranger, Level.VIEW)
    assert [d.slug for d in decode(merged, user=stranger.user).datasets] == ["secret-labels"]


def test_directory_file_list_withheld_without_read_access(history, indexed, owner, unit):
    make_dataset(owner, slug="all-data", visibility=Dataset.Visibility.RESTRICTED,
                 locations=[LocationSpec(uri="dvc://vision/detector#data")])
    stranger = make_person("stan", unit=unit)
    key = object_key(history.images_v2.md5, is_dir=True)
    seen = decode(key, user=stranger.user, remote_dirs=[history.remote.path])
    assert seen.files is None
    assert [d.slug for d in seen.datasets] == ["street-images"]
    assert [d.slug for d in decode(key, user=owner.user, remote_dirs=[history.remote.path]).datasets] == [
        "all-data", "street-images"
    ]


def test_decode_api(history, indexed, owner, api, settings):
    settings.KURA_LOCAL_ROOTS = [str(history.remote.path.parent)]
    h = history
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))
    key = object_key(h.images_v2.md5, is_dir=True)
    response = api.get(f"/api/v1/dvc/decode/{key}")
    assert response.status_code == 200
    body = response.json()
    assert (body["md5"], body["is_dir"], body["keys"], body["classification"]) == (h.images_v2.md5, True, [key], "live")
    assert body["references"] == [{
        "repo": {"id": indexed.pk, "name": "vision/detector"}, "path": "data/images", "stage": "",
        "source_path": "data/images.dvc", "commit": h.commits["c2"],
        "author": {"name": "Bob Baker", "email": "bob@example.com"}, "authored_at": "2024-02-01T10:00:00Z",
        "size": h.images_v2.size, "nfiles": 3, "layout": "dvc3", "cache": True, "remote": "",
        "live_refs": ["refs/heads/feature", "refs/heads/main", "refs/tags/v1"], "reachable": True,
    }]  # fmt: skip
    assert body["datasets"] == [
        {"slug": "street-images", "name": body["datasets"][0]["name"], "url": "/api/v1/datasets/street-images/"}
    ]
    assert body["files"][2] == {"relpath": "c.jpg", "md5": md5_of(b"jpeg-c"), "key": object_key(md5_of(b"jpeg-c"))}
    settings.KURA_LOCAL_ROOTS = []
    assert api.get(f"/api/v1/dvc/decode/{key}/").json()["files"] is None  # outside the allow-list: not read
    bad = api.get("/api/v1/dvc/decode/xyz")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "validation_error")
    unknown = api.get(f"/api/v1/dvc/decode/{'e' * 32}").json()
    assert (unknown["classification"], unknown["references"]) == ("unreferenced", [])
    api.credentials()
    assert api.get(f"/api/v1/dvc/decode/{key}").status_code == 401


def test_repo_list_api_hides_restricted_linked_datasets(history, indexed, owner, unit, api):
    stranger = make_person("stan", unit=unit)
    api.credentials(HTTP_AUTHORIZATION=bearer(stranger))
    [repo] = api.get("/api/v1/repos/").json()["results"]
    assert [d["slug"] for d in repo["datasets"]] == ["street-images"]
    assert (repo["name"], repo["status"], repo["warnings"], repo["default_branch"]) == (
        "vision/detector", "ready", 1, "refs/heads/main"
    )
    assert repo["remotes"] == [
        {"name": "storage", "url": str(history.remote.path), "is_default": True, "is_current": True}
    ]
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))
    [repo] = api.get("/api/v1/repos/").json()["results"]
    assert [d["slug"] for d in repo["datasets"]] == ["secret-labels", "street-images"]


def test_repo_url_credentials_are_never_returned(owner, api):
    training_repo_create(actor=owner, name="private/repo", url="https://ci:s3cret@git.example.com/private/repo.git")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))
    [repo] = api.get("/api/v1/repos/").json()["results"]
    assert repo["url"] == "https://git.example.com/private/repo.git"


def test_task_and_command_index_by_id_or_name(history, owner, capsys):
    repo = training_repo_create(actor=owner, name="vision/detector", url=str(history.repo.path))
    assert index_training_repo.apply(args=[repo.pk]).get() == 7
    assert index_training_repo.apply(args=[repo.pk + 999]).get() is None
    history.repo.write("new.dvc", "outs:\n- md5: " + "c" * 32 + "\n  path: new.bin\n")
    history.repo.commit("More", date="2024-08-01T10:00:00+00:00")
    call_command("index_repo", "vision/detector")
    assert "1 commits read, 1 outputs recorded" in capsys.readouterr().out
    assert DvcReference.objects.filter(repo=repo, md5="c" * 32, is_live=True).exists()
    assert TrainingRepo.objects.get(pk=repo.pk).commits_indexed == 8


def test_decode_page_shows_what_a_hash_is_without_revealing_restricted_datasets(
    history, indexed, owner, unit, client, settings
):
    settings.KURA_LOCAL_ROOTS = [str(history.remote.path.parent)]
    restricted = Dataset.objects.get(slug="secret-labels")
    client.force_login(owner.user)
    page = client.get("/dvc/decode/", {"q": md5_of(history.labels_merged)}).content.decode()
    assert "Erin Ember" in page and "data/labels.csv" in page and restricted.name in page
    listing = client.get("/dvc/decode/", {"q": object_key(history.images_v2.md5, is_dir=True)}).content.decode()
    assert "c.jpg" in listing and "Bob Baker" in listing and "refs/tags" not in listing
    stranger = make_person("stan", unit=unit)
    client.force_login(stranger.user)
    hidden = client.get("/dvc/decode/", {"q": md5_of(history.labels_merged)}).content.decode()
    assert "Erin Ember" in hidden and restricted.name not in hidden and "secret-labels" not in hidden
    assert "neither an md5 hash" in client.get("/dvc/decode/", {"q": "zzz"}).content.decode()
    deep = "/".join(["nested"] * 60)  # the page reads the whole URI, not its first 200 characters
    uri = f"file://{history.remote.path}/{deep}/{object_key(history.images_v2.md5, is_dir=True)}"
    assert client.get("/dvc/decode/", {"q": uri}).content.decode().count("Bob Baker") == listing.count("Bob Baker")
    repos = client.get("/repos/").content.decode()
    assert "vision/detector" in repos and restricted.name not in repos


def test_a_file_inside_directories_decodes_through_the_manifests_a_scan_read(
    history, indexed, owner, unit, api, client, settings
):
    h = history
    settings.KURA_LOCAL_ROOTS = [str(h.remote.path.parent)]
    member = object_key(md5_of(b"jpeg-c"))
    assert decode(member, user=owner.user).containing == []  # no scan has read a manifest yet
    connection = make_local_connection([str(h.remote.path)], is_dvc_remote=True)
    connection_set_dvc_repos(connection=connection, repos=[indexed], actor=None)
    manifests_refresh(connection)

    decoded = decode(member, user=owner.user)
    assert (decoded.classification, decoded.references, decoded.keys) == (ObjectClass.LIVE, [], [member])
    assert [(found.directory.key(), found.relpath, [ref.commit for ref in found.references])
            for found in decoded.containing] == [(object_key(h.images_v2.md5, is_dir=True), "c.jpg", [h.commits["c2"]])]
    assert [dataset.slug for dataset in decoded.datasets] == ["street-images"]
    # A bare hash is found in directories of both layouts (oldest first); a key only in its own layout's.
    shared = md5_of(b"jpeg-a")
    assert [found.directory.key() for found in decode(shared, user=owner.user).containing] == [
        object_key(h.images_v1.md5, dvc3=False, is_dir=True), object_key(h.images_v2.md5, is_dir=True)]
    assert [found.directory.key() for found in decode(object_key(shared, dvc3=False), user=owner.user).containing] == [
        object_key(h.images_v1.md5, dvc3=False, is_dir=True)]

    api.credentials(HTTP_AUTHORIZATION=bearer(owner))
    body = api.get(f"/api/v1/dvc/decode/{member}").json()
    assert body["classification"] == "live"
    assert [(found["md5"], found["key"], found["relpath"], found["references"][0]["path"])
            for found in body["containing"]] == [
        (f"{h.images_v2.md5}.dir", object_key(h.images_v2.md5, is_dir=True), "c.jpg", "data/images")]
    client.force_login(owner.user)
    page = client.get("/dvc/decode/", {"q": member}).content.decode()
    assert "Inside directories" in page and "data/images/c.jpg" in page and f"?q={h.images_v2.md5}.dir" in page
    assert "No indexed commit refers to this object" not in page

    # The file's name inside the directory is part of the file list: withheld without read access to the data.
    make_dataset(owner, slug="all-data", visibility=Dataset.Visibility.RESTRICTED,
                 locations=[LocationSpec(uri="dvc://vision/detector#data")])
    hidden = decode(member, user=make_person("stan", unit=unit).user)
    assert [(found.relpath, found.references[0].commit) for found in hidden.containing] == [("", h.commits["c2"])]
    assert "needs read access" in hidden.notes[0]


def test_one_repository_cannot_be_linked_twice(owner):
    from django.core.exceptions import ValidationError

    training_repo_create(actor=owner, name="vision/detector", url="https://git.example.com/vision/detector.git")

    for same in ("https://git.example.com/vision/detector", "https://git.example.com/vision/detector.git/"):
        with pytest.raises(ValidationError) as refused:
            training_repo_create(actor=owner, name="vision/detector-2", url=same)
        assert refused.value.message_dict == {"url": ["This repository is already linked as 'vision/detector'."]}
    training_repo_create(actor=owner, name="vision/other", url="https://git.example.com/vision/other.git")
