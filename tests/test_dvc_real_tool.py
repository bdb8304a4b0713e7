"""Kura against what the real ``dvc`` writes: ``dvc add`` of a directory and a file, a ``dvc.lock`` stage from
``dvc repro``, ``dvc import`` from a registry repository, ``dvc push`` (with the run cache), a tag, a kept branch
and a deleted one; and a second repository pushing to the same remote, begun with DVC 2 (its layout and its
``.dvc`` files) and upgraded to DVC 3. DVC's own garbage collector says what each pushed object is
(tests/real_dvc.py); Kura must say the same of every object, decode each to the commit that wrote it, and version
the dataset from history."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog.services import LocationSpec
from storage.dvc.decode import ObjectClass, decode
from storage.dvc.indexer import training_repo_index
from storage.dvc.layout import parse_object_key
from storage.dvc.remote_report import unreferenced_objects
from storage.dvc.repos import training_repo_create
from storage.dvc.versions import versions_refresh_for_repo
from storage.models import DvcImport, ScanRun, StorageConnection, TrainingRepo
from storage.services import connection_set_dvc_repos
from tests.dvc_builders import dir_object, md5_of, object_key
from tests.factories import make_dataset
from tests.real_dvc import DvcProject, classes_by_dvc_gc, dvc_executable
from tests.storage_support import dvc_classes_by_key, make_local_connection, scan, scanned_totals

pytestmark = pytest.mark.django_db

# Each version of data/images, as files (a unicode name among them); the stage concatenates them.
IMAGES = [
    {"cat.png": b"a", "chat-ü.png": b"bb"},
    {"cat.png": b"a", "chat-ü.png": b"bb", "dog.png": b"ccc"},
    {"cat.png": b"a", "chat-ü.png": b"bb", "dog.png": b"dddd"},
]
IMAGE_COMMITS = ["first", "second", "third"]  # the commit that added each version
PREPARE = "mkdir -p data/prepared && cat data/images/* > data/prepared/all.bin"
# The second repository's data/audio: two DVC 2 commits, then one by DVC 3.
AUDIO = [
    {"x.wav": b"x1", "y.wav": b"yy"},
    {"x.wav": b"x2", "y.wav": b"yy"},
    {"x.wav": b"x2", "y.wav": b"yy", "z.wav": b"zzz"},
]
AUDIO_COMMITS = ["legacy-1", "legacy-2", "legacy-3"]
MODEL, EXPERIMENT_MODEL, SCRATCH_MODEL = b"model-1", b"model-experiment", b"model-scratch"
EXPERIMENT_DOG = b"eeeee"  # data/images/dog.png in a `dvc exp run` experiment
LABELS = b"path,label\ncat.png,cat\n"


@dataclass
class RealRemote:
    root: Path  # under KURA_LOCAL_ROOTS in the tests
    project: DvcProject
    legacy: DvcProject  # the repository that pushed with DVC 2 first
    remote: Path
    registry: DvcProject
    commits: dict[str, str]
    expected: dict[str, ObjectClass]  # what DVC's gc says of every pushed object


def _write(project: DvcProject, directory: str, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        project.write_bytes(f"{directory}/{name}", data)


def _build_legacy(root: Path, remote: Path, commits: dict[str, str]) -> DvcProject:
    legacy = DvcProject(root / "legacy", dvc_executable(2), remote=remote)
    for files, name, month in zip(AUDIO, AUDIO_COMMITS, ["2023-06", "2023-07", "2024-06"], strict=True):
        if name == "legacy-3":
            legacy.tool = dvc_executable(3)  # the team upgrades: the same output, now hashed and pushed by DVC 3
        _write(legacy, "data/audio", files)
        legacy.dvc("add", "data/audio")
        commits[name] = legacy.commit(f"Audio {name}", author="Erin Ember", date=f"{month}-01T10:00:00+00:00")
        legacy.dvc("push")
    return legacy


def _build(root: Path) -> RealRemote:
    tool = dvc_executable()
    remote = root / "remote"
    registry = DvcProject(root / "registry", tool, remote=root / "registry-remote")
    registry.write_bytes("data/labels.csv", LABELS)
    registry.dvc("add", "data/labels.csv")
    registry.commit("Labels", author="Rita Registry", date="2023-12-01T09:00:00+00:00")
    registry.dvc("push")

    project = DvcProject(root / "vision", tool, remote=remote)
    commits = {}
    _write(project, "data/images", IMAGES[0])
    project.write_bytes("model.bin", MODEL)
    project.dvc("add", "data/images", "model.bin")
    project.dvc("stage", "add", "--name", "prepare", "--deps", "data/images", "--outs", "data/prepared", PREPARE)
    project.dvc("repro")
    commits["first"] = project.commit("First images", author="Alice Able", date="2024-01-10T10:00:00+00:00")
    project.git("tag", "v1")
    project.dvc("push", "--run-cache")

    _write(project, "data/images", IMAGES[1])
    project.dvc("add", "data/images")
    project.dvc("repro")
    commits["second"] = project.commit("A dog", author="Bob Baker", date="2024-02-10T10:00:00+00:00")
    project.dvc("push")

    _write(project, "data/images", IMAGES[2])
    project.dvc("add", "data/images")
    project.dvc("repro")
    project.dvc("import", str(registry.path), "data/labels.csv", "--out", "data/labels.csv")
    commits["third"] = project.commit("A bigger dog, labels", author="Alice Able", date="2024-03-10T10:00:00+00:00")
    project.dvc("push")

    # An experiment (`dvc exp run`): its commit lives under refs/exps/, not on a branch; its data is pushed.
    project.write_bytes("data/images/dog.png", EXPERIMENT_DOG)
    project.dvc("exp", "run", "--name", "bigger-dog", author="Carol Chen", date="2024-03-20T10:00:00+00:00")
    project.dvc("push")
    commits["bigger-dog"] = next(line.split()[0] for line in project.git(
        "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps/").splitlines() if line.endswith("/bigger-dog"))
    project.git("checkout", "-q", "--", ".")
    project.dvc("checkout", "--force")

    project.git("checkout", "-q", "-b", "experiment")
    project.write_bytes("model.bin", EXPERIMENT_MODEL)
    project.dvc("add", "model.bin")
    commits["experiment"] = project.commit("Try a model", author="Carol Chen", date="2024-04-10T10:00:00+00:00")
    project.dvc("push")

    project.git("checkout", "-q", "main")
    project.dvc("checkout", "--force")
    project.git("checkout", "-q", "-b", "scratch")
    project.write_bytes("model.bin", SCRATCH_MODEL)
    project.dvc("add", "model.bin")
    project.commit("Scratch work", author="Dan Doe", date="2024-05-10T10:00:00+00:00")
    project.dvc("push")  # pushed, then its branch deleted: nothing any ref reaches refers to it
    project.git("checkout", "-q", "main")
    project.dvc("checkout", "--force")
    project.git("branch", "-q", "-D", "scratch")

    legacy = _build_legacy(root, remote, commits)
    expected = classes_by_dvc_gc([project, legacy], remote, root)
    return RealRemote(root, project, legacy, remote, registry, commits, expected)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> RealRemote:
    return _build(tmp_path_factory.mktemp("real-dvc"))


@pytest.fixture
def real(built, settings, owner) -> tuple[RealRemote, TrainingRepo, StorageConnection]:
    """The project indexed by Kura and its remote linked as a DVC remote connection (not scanned yet)."""
    settings.KURA_LOCAL_ROOTS = [str(built.root)]
    images = make_dataset(owner, slug="real-images", locations=[LocationSpec(uri="dvc://vision/real#data/images")])
    repo = training_repo_create(actor=owner, name="vision/real", url=str(built.project.path), datasets=[images])
    legacy = training_repo_create(actor=owner, name="audio/legacy", url=str(built.legacy.path))
    for indexed in (repo, legacy):
        result = training_repo_index(repo=indexed)
        assert result.warnings_added == 0, list(indexed.warnings.values_list("message", flat=True))
    connection = make_local_connection([str(built.remote)], is_dvc_remote=True)
    connection_set_dvc_repos(connection=connection, repos=[repo, legacy], actor=None)
    return built, repo, connection


def _dir_key(files: dict[str, bytes], *, dvc3: bool = True) -> str:
    return object_key(dir_object(files).md5, dvc3=dvc3, is_dir=True)


def test_the_scenario_covers_every_class_dvc_knows(built):
    classes = set(built.expected.values())
    assert classes == {ObjectClass.LIVE, ObjectClass.HISTORICAL, ObjectClass.UNREFERENCED, ObjectClass.RUN_CACHE}
    # The .dir objects as DVC wrote them are the ones the tests compute: manifests match byte for byte.
    for files in IMAGES:
        assert _dir_key(files) in built.expected
    assert built.expected[object_key(md5_of(SCRATCH_MODEL))] == ObjectClass.UNREFERENCED
    assert built.expected[object_key(md5_of(b"ccc"))] == ObjectClass.HISTORICAL
    assert built.expected[object_key(md5_of(EXPERIMENT_DOG))] == ObjectClass.HISTORICAL  # an experiment's only
    # DVC 2 pushed to the top level, DVC 3 under files/md5/, into the one remote.
    assert built.expected[_dir_key(AUDIO[0], dvc3=False)] == ObjectClass.HISTORICAL
    assert built.expected[_dir_key(AUDIO[2])] == ObjectClass.LIVE


def test_every_pushed_object_is_classified_as_dvc_gc_keeps_it(real):
    built, _, connection = real
    assert dvc_classes_by_key(connection) == built.expected

    run = scan(connection)
    assert run.status == ScanRun.Status.SUCCEEDED
    expected_totals: dict[str, tuple[int, int]] = {}
    for key, cls in built.expected.items():
        count, size = expected_totals.get(cls.value, (0, 0))
        expected_totals[cls.value] = (count + 1, size + (built.remote / key).stat().st_size)
    assert scanned_totals(run) == expected_totals
    assert sorted(item.key for item in unreferenced_objects(connection)) == sorted(
        key for key, cls in built.expected.items() if cls == ObjectClass.UNREFERENCED)


def test_each_object_decodes_to_the_commit_path_and_stage_that_wrote_it(real, owner):
    built, repo, connection = real
    commits = built.commits
    scan(connection)  # reads the .dir manifests that explain the files inside directories
    third = decode(_dir_key(IMAGES[2]), user=owner.user)
    assert third is not None and third.classification == ObjectClass.LIVE
    assert [(ref.path, ref.stage, ref.source_path, ref.commit, ref.author_name) for ref in third.references] == [
        ("data/images", "", "data/images.dvc", commits["third"], "Alice Able")]
    assert [(entry.relpath, entry.md5) for entry in third.files or []] == [
        (name, md5_of(data)) for name, data in sorted(IMAGES[2].items())]
    assert [dataset.slug for dataset in third.datasets] == ["real-images"]

    second = decode(_dir_key(IMAGES[1]), user=owner.user)
    assert second is not None and second.classification == ObjectClass.HISTORICAL
    assert {ref.commit for ref in second.references if ref.source_path == "data/images.dvc"} == {commits["second"]}

    prepared = decode(object_key(md5_of(b"".join(IMAGES[2][name] for name in sorted(IMAGES[2])))), user=owner.user)
    assert prepared is not None and prepared.classification == ObjectClass.LIVE
    assert prepared.references == []  # a file inside a directory output is committed through its directory
    assert [(found.relpath, [(ref.path, ref.stage, ref.source_path, ref.commit, ref.live_refs)
                             for ref in found.references]) for found in prepared.containing] == [
        ("all.bin", [("data/prepared", "prepare", "dvc.lock", commits["third"],
                      ["refs/heads/experiment", "refs/heads/main"])])]

    # A file in every version of the images: all three directories, oldest first, with its unicode name.
    shared = decode(object_key(md5_of(b"bb")), user=owner.user)
    assert shared is not None and shared.classification == ObjectClass.LIVE
    assert [(found.directory.key(), found.relpath, found.references[0].commit) for found in shared.containing] == [
        (_dir_key(files), "chat-ü.png", commits[name]) for files, name in zip(
            [*IMAGES, {**IMAGES[2], "dog.png": EXPERIMENT_DOG}], [*IMAGE_COMMITS, "bigger-dog"], strict=True)]
    assert [dataset.slug for dataset in shared.datasets] == ["real-images"]
    replaced = decode(object_key(md5_of(b"ccc")), user=owner.user)
    assert replaced is not None and replaced.classification == ObjectClass.HISTORICAL
    assert [(found.relpath, found.references[0].author_name) for found in replaced.containing] == [
        ("dog.png", "Bob Baker")]

    experiment = decode(object_key(md5_of(EXPERIMENT_MODEL)), user=owner.user)
    assert experiment is not None and experiment.classification == ObjectClass.LIVE
    assert [(ref.path, ref.commit, ref.author_name, ref.live_refs) for ref in experiment.references] == [
        ("model.bin", commits["experiment"], "Carol Chen", ["refs/heads/experiment"])]

    # The DVC 2 layout: a file at the top level, inside a directory only an older DVC 2 commit has.
    first_take = decode(object_key(md5_of(b"x1"), dvc3=False), user=owner.user)
    assert first_take is not None and first_take.classification == ObjectClass.HISTORICAL
    assert [(found.directory.key(), found.relpath,
             [(ref.repo_name, ref.commit, ref.layout) for ref in found.references])
            for found in first_take.containing] == [
        (_dir_key(AUDIO[0], dvc3=False), "x.wav", [("audio/legacy", commits["legacy-1"], "dvc2")])]
    # A bare hash: the same file pushed by both tools, in directories of both layouts, oldest first.
    both = decode(md5_of(b"yy"), user=owner.user)
    assert both is not None and both.classification == ObjectClass.LIVE
    assert [found.directory.key() for found in both.containing] == [
        _dir_key(AUDIO[0], dvc3=False), _dir_key(AUDIO[1], dvc3=False), _dir_key(AUDIO[2])]
    assert both.keys == sorted([object_key(md5_of(b"yy"), dvc3=False), object_key(md5_of(b"yy"))])

    # An experiment's data: committed under refs/exps/ (reachable, so it counts), at no branch or tag head.
    tried = decode(object_key(md5_of(EXPERIMENT_DOG)), user=owner.user)
    assert tried is not None and tried.classification == ObjectClass.HISTORICAL
    assert [(ref.path, ref.commit, ref.author_name, ref.live_refs)
            for found in tried.containing for ref in found.references] == [
        ("data/images", commits["bigger-dog"], "Carol Chen", [])]

    labels = DvcImport.objects.get(repo=repo)
    assert (labels.path, labels.imported_path, labels.source_url, labels.source_path, labels.md5) == (
        "data/labels.csv", "data/labels.csv", str(built.registry.path), "data/labels.csv.dvc", md5_of(LABELS))
    assert labels.rev_lock == built.registry.git("rev-parse", "HEAD")
    assert decode(object_key(md5_of(SCRATCH_MODEL)), user=owner.user).references == []


def test_the_dataset_gets_a_version_per_directory_committed_on_a_branch_with_its_real_files(real):
    built, repo, _ = real
    versions = versions_refresh_for_repo(repo=repo)
    commits = built.commits
    assert [(version.label, version.git_commit) for version in versions] == [
        ("v1" if name == "first" else commits[name][:8], commits[name]) for name in IMAGE_COMMITS]
    for version, files in zip(versions, IMAGES, strict=True):
        assert list(version.files.values_list("path", "size", "hash")) == [
            (name, len(data), f"md5:{md5_of(data)}") for name, data in sorted(files.items())]
        # CI resolves the version to keys that are in the remote.
        for name, data in files.items():
            key = object_key(md5_of(data))
            assert parse_object_key(key) is not None and (built.remote / key).is_file(), name
