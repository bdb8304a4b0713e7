"""Demo: a DVC training repository with real git history and a local DVC remote beside it.

The remote holds live objects (current on main or a tag), historical ones (only in older commits, one pushed
from a branch that was later deleted) and unreferenced ones (no commit ever named them), in both the DVC 3
(``files/md5/…``) and DVC 2 layouts, so every kind of answer shows up in the DVC lookup.
"""

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from django.core.exceptions import ValidationError

from access.models import OrgUnit, Person
from catalog.models import Dataset
from catalog.services import LocationSpec, dataset_create
from storage.dvc.indexer import training_repo_index
from storage.dvc.repos import training_repo_create
from storage.dvc.versions import dataset_versions_from_history
from storage.models import StorageConnection, TrainingRepo
from storage.scanning import scan_request, scan_run_inline
from storage.services import connection_create, connection_set_dvc_repos

REPO_NAME = "perception/sign-detector"
SLUG = "sign-crops-dvc"
REMOTE_CONNECTION = "demo-dvc-remote"


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class _Remote:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, data: bytes, *, dvc3: bool = True, suffix: str = "") -> str:
        md5 = _md5(data)
        target = self.root / ("files/md5" if dvc3 else "") / md5[:2] / f"{md5[2:]}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return md5

    def put_dir(self, files: dict[str, bytes], *, dvc3: bool = True) -> tuple[str, int]:
        entries = [{"md5": self.put(data, dvc3=dvc3), "relpath": name} for name, data in sorted(files.items())]
        return self.put(json.dumps(entries, sort_keys=True).encode(), dvc3=dvc3, suffix=".dir"), sum(
            len(data) for data in files.values()
        )


def _dvc_file(md5: str, size: int, path: str, *, nfiles: int | None = None, dvc3: bool = True) -> str:
    lines = ["outs:", f"- md5: {md5}{'.dir' if nfiles is not None else ''}", f"  size: {size}"]
    lines += [f"  nfiles: {nfiles}"] if nfiles is not None else []
    lines += ["  hash: md5"] if dvc3 else []
    return "\n".join([*lines, f"  path: {path}"]) + "\n"


class _Git:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, *args: str, author: str = "Amara Okafor", date: str = "2025-01-10T09:00:00+00:00") -> None:
        email = author.split()[0].lower() + "@example.com"
        env = {**os.environ, "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date,
               "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": date}
        subprocess.run(["git", *args], cwd=self.path, env=env, check=True, capture_output=True)

    def write(self, relpath: str, text: str) -> None:
        (self.path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (self.path / relpath).write_text(text, encoding="utf-8")

    def commit(self, message: str, author: str, date: str) -> None:
        self("add", "-A", author=author, date=date)
        self("commit", "-q", "-m", message, author=author, date=date)


def _build(repo_dir: Path, remote: _Remote) -> None:
    repo_dir.mkdir(parents=True)
    git = _Git(repo_dir)
    git("init", "-q", "-b", "main")
    crops_v1, size_v1 = remote.put_dir({f"stop/{i:03d}.png": f"stop-{i}".encode() for i in range(4)}, dvc3=False)
    git.write(".dvc/config", f"[core]\n    remote = nas\n['remote \"nas\"']\n    url = {remote.root}\n")
    git.write("data/crops.dvc", _dvc_file(crops_v1, size_v1, "crops", nfiles=4, dvc3=False))
    git.commit("Track sign crops (DVC 2)", "Jonas Weber", "2025-01-10T09:00:00+00:00")

    files_v2 = {f"{kind}/{i:03d}.png": f"{kind}-{i}-v2".encode() for kind in ("stop", "yield") for i in range(3)}
    crops_v2, size_v2 = remote.put_dir(files_v2)
    model = b"detector weights v1"
    remote.put(model)
    git.write("data/crops.dvc", _dvc_file(crops_v2, size_v2, "crops", nfiles=6))
    git.write("dvc.lock", "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    outs:\n"
              f"    - path: model.pt\n      hash: md5\n      md5: {_md5(model)}\n      size: {len(model)}\n")
    git.commit("Migrate to DVC 3, add yield signs, train", "Amara Okafor", "2025-04-02T14:30:00+00:00")
    git("tag", "v2", author="Amara Okafor", date="2025-04-02T15:00:00+00:00")

    git("checkout", "-q", "-b", "try-night-shots")
    night = b"night shots that were never kept"
    remote.put(night)  # pushed from a branch that was deleted: the commit is gone, the object is not
    git.write("data/night.dvc", _dvc_file(_md5(night), len(night), "night.bin"))
    git.commit("Night shots experiment", "Kai Müller", "2025-05-01T08:00:00+00:00")
    git("checkout", "-q", "main")
    git("branch", "-q", "-D", "try-night-shots")

    files_v3 = {**files_v2, **{f"speed/{i:03d}.png": f"speed-{i}".encode() for i in range(2)}}
    crops_v3, size_v3 = remote.put_dir(files_v3)
    git.write("data/crops.dvc", _dvc_file(crops_v3, size_v3, "crops", nfiles=8))
    git.commit("Add speed-limit signs", "Amara Okafor", "2025-09-15T11:00:00+00:00")
    git("tag", "v3", author="Amara Okafor", date="2025-09-15T11:30:00+00:00")
    remote.put(b"an upload nobody committed", dvc3=True)


def load_dvc_demo(data_dir: Path, people: dict[str, Person], unit: OrgUnit) -> None:
    """Idempotent; skipped where git is not installed."""
    if shutil.which("git") is None:
        return
    root = data_dir / "demo-storage"
    repo_dir, remote = root / "repos" / "sign-detector", _Remote(root / "dvc-remote")
    if not (repo_dir / ".git").exists():
        shutil.rmtree(repo_dir, ignore_errors=True)
        _build(repo_dir, remote)
    owner = people["amara"]
    dataset = Dataset.objects.filter(slug=SLUG).first() or dataset_create(
        actor=owner, slug=SLUG, name="Sign crops (DVC)", owner=owner, owning_unit=unit,
        purpose="Cropped traffic-sign images the sign detector trains on, versioned with DVC.",
        locations=[LocationSpec(uri=f"dvc://{REPO_NAME}#data/crops")], tags=["traffic-signs", "dvc"],
        training_repo_url=str(repo_dir), training_repo_path="data/crops",
    )  # fmt: skip
    repo = TrainingRepo.objects.filter(name=REPO_NAME).first() or training_repo_create(
        actor=owner, name=REPO_NAME, url=str(repo_dir), datasets=[dataset]
    )
    training_repo_index(repo=repo)
    dataset_versions_from_history(dataset=dataset, actor=owner, remote_dir=remote.root)
    _remote_connection(remote.root, repo, owner)


def _remote_connection(remote_dir: Path, repo: TrainingRepo, actor: Person) -> None:
    """The demo remote as a DVC remote connection, scanned once so its page shows live, historical and
    unreferenced objects straight away."""
    connection = StorageConnection.objects.filter(name=REMOTE_CONNECTION).first()
    if connection is None:
        try:
            connection = connection_create(actor=actor, name=REMOTE_CONNECTION, kind=StorageConnection.Kind.LOCAL,
                                           roots=[str(remote_dir)], schedule_minutes=60, is_dvc_remote=True)
        except ValidationError:  # outside KURA_LOCAL_ROOTS: nothing may scan it
            return
        connection_set_dvc_repos(connection=connection, repos=[repo], actor=actor)
    if not connection.runs.exists():
        scan_run_inline(run=scan_request(connection=connection, trigger="cli"))
