"""Real git repositories and DVC remotes for the DVC tests, written byte for byte as DVC writes them."""

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.dvc.decode import ObjectClass


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 - DVC's content address, not security


def object_key(md5: str, *, dvc3: bool = True, is_dir: bool = False) -> str:
    """The key of an object in a DVC remote: DVC 3 under ``files/md5/``, DVC 2 at the top."""
    return f"{'files/md5/' if dvc3 else ''}{md5[:2]}/{md5[2:]}{'.dir' if is_dir else ''}"


@dataclass(frozen=True)
class DirObject:
    md5: str  # without ".dir"
    manifest: bytes  # the .dir object's bytes
    files: dict[str, bytes]  # relpath → content
    size: int

    @property
    def nfiles(self) -> int:
        return len(self.files)


def dir_object(files: dict[str, bytes]) -> DirObject:
    """What ``dvc add <dir>`` computes: a sorted JSON list of {md5, relpath}, md5'd."""
    entries = [{"md5": md5_of(content), "relpath": relpath} for relpath, content in sorted(files.items())]
    manifest = json.dumps(entries, sort_keys=True).encode()
    return DirObject(md5_of(manifest), manifest, files, sum(len(content) for content in files.values()))


def dvc_file(md5: str, size: int, path: str, *, dvc3: bool = True, nfiles: int | None = None) -> str:
    """A ``.dvc`` file as ``dvc add`` writes it (DVC 3 adds ``hash: md5``; DVC 2 has none)."""
    suffix = ".dir" if nfiles is not None else ""
    lines = ["outs:", f"- md5: {md5}{suffix}", f"  size: {size}"]
    if nfiles is not None:
        lines.append(f"  nfiles: {nfiles}")
    if dvc3:
        lines.append("  hash: md5")
    lines.append(f"  path: {path}")
    return "\n".join(lines) + "\n"


def dvc_config(remotes: dict[str, str], default: str) -> str:
    text = f"[core]\n    remote = {default}\n"
    for name, url in remotes.items():
        text += f"['remote \"{name}\"']\n    url = {url}\n"
    return text


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def env(self, author: str, date: str) -> dict[str, str]:
        """Git's environment for a command by ``author`` at ``date``, isolated from this machine's git config."""
        email = author.split()[0].lower() + "@example.com"
        return {
            **os.environ,
            "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": date,
            "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.path),
        }  # fmt: skip

    def git(self, *args: str, author: str = "Alice Able", date: str = "2024-01-01T10:00:00+00:00") -> str:
        result = subprocess.run(["git", *args], cwd=self.path, env=self.env(author, date), capture_output=True,
                                check=True)
        return result.stdout.decode().strip()

    def write(self, relpath: str, text: str) -> None:
        target = self.path / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def commit(self, message: str, *, author: str = "Alice Able", date: str) -> str:
        self.git("add", "-A", author=author, date=date)
        self.git("commit", "-q", "-m", message, author=author, date=date)
        return self.git("rev-parse", "HEAD")


class LocalRemote:
    """A DVC remote directory: objects stored under the DVC 3 or DVC 2 layout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def _put(self, key: str, data: bytes) -> str:
        target = self.path / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return key

    def push_file(self, data: bytes, *, dvc3: bool = True) -> str:
        return self._put(object_key(md5_of(data), dvc3=dvc3), data)

    def push_dir(self, directory: DirObject, *, dvc3: bool = True) -> list[str]:
        keys = [self.push_file(content, dvc3=dvc3) for content in directory.files.values()]
        keys.append(self._put(object_key(directory.md5, dvc3=dvc3, is_dir=True), directory.manifest))
        return keys

    def put_raw(self, key: str, data: bytes) -> str:
        return self._put(key, data)

    def object_keys(self) -> list[str]:
        return sorted(str(path.relative_to(self.path)) for path in self.path.rglob("*") if path.is_file())


MALFORMED_DVC = "outs:\n- md5: [not, a, hash\n  path: broken.bin\n"

LOCK_V2 = """schema: '2.0'
stages:
  train:
    cmd: python train.py
    deps:
    - path: data/images
      hash: md5
      md5: {images}.dir
      size: {images_size}
      nfiles: {images_nfiles}
    outs:
    - path: model.pkl
      hash: md5
      md5: {model}
      size: {model_size}
    - path: metrics.json
      hash: md5
      md5: {metrics}
      size: {metrics_size}
      cache: false
"""

LOCK_LEGACY = """prepare:
  cmd: python prepare.py
  deps:
  - path: prepare.py
    md5: 0c4f6e9a1b3d5e7f9a1b3c5d7e9f1a3b
  outs:
  - path: prepared
    md5: {prepared}.dir
"""

IMPORT_DVC = """md5: 5b3ad8f1c3a3c0d2e4f6a8b0c2d4e6f8
frozen: true
deps:
- path: data/registry.xml
  repo:
    url: https://github.com/example/dataset-registry
    rev_lock: f31f5c4cdae787b4bdeb97a717687d44667d9e62
outs:
- md5: {md5}
  size: {size}
  hash: md5
  path: registry.xml
"""


@dataclass
class History:
    """The shared scenario; every sha and hash the tests assert on."""

    repo: GitRepo
    remote: LocalRemote
    images_v1: DirObject  # DVC 2 directory, main c1
    images_v2: DirObject  # DVC 3 directory, main c2 (tag v1)
    images_v3: DirObject  # DVC 3 directory, branch experiment
    model: bytes
    metrics: bytes
    labels_feature: bytes
    labels_main: bytes
    labels_merged: bytes
    extra: bytes
    prepared: DirObject
    registry: bytes
    sample: bytes
    scratch: bytes
    commits: dict[str, str]


def build_history(root: Path) -> History:
    repo = GitRepo(root / "detector")
    remote = LocalRemote(root / "dvc-remote")
    images_v1 = dir_object({"a.jpg": b"jpeg-a", "b.jpg": b"jpeg-b"})
    images_v2 = dir_object({"a.jpg": b"jpeg-a", "b.jpg": b"jpeg-b2", "c.jpg": b"jpeg-c"})
    images_v3 = dir_object({"a.jpg": b"jpeg-a3"})
    model, metrics = b"model-weights-1", b'{"acc": 0.9}'
    labels_feature, labels_main, labels_merged = b"labels-feature", b"labels-main", b"labels-merged"
    extra, registry, sample, scratch = b"extra-data", b"<registry/>", "échantillon".encode(), b"scratch-data"
    prepared = dir_object({"train.csv": b"1,2", "test.csv": b"3"})
    commits: dict[str, str] = {}

    repo.write(".dvc/config", dvc_config({"storage": str(remote.path)}, "storage"))
    repo.write(".dvc/.gitignore", "/config.local\n/tmp\n/cache\n")
    repo.write("data/images.dvc", dvc_file(images_v1.md5, images_v1.size, "images", dvc3=False, nfiles=2))
    repo.write("broken.dvc", MALFORMED_DVC)
    commits["c1"] = repo.commit("Add images (DVC 2)", author="Alice Able", date="2024-01-01T10:00:00+00:00")

    repo.git("checkout", "-q", "-b", "scratch")
    repo.write("scratch.dvc", dvc_file(md5_of(scratch), len(scratch), "scratch.bin"))
    commits["scratch"] = repo.commit("Scratch", author="Sam Scratch", date="2024-01-15T10:00:00+00:00")
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "scratch")  # deleted before Kura ever saw it

    repo.git("rm", "-q", "broken.dvc")
    repo.write("data/images.dvc", dvc_file(images_v2.md5, images_v2.size, "images", nfiles=3))
    repo.write("dvc.lock", LOCK_V2.format(
        images=images_v2.md5, images_size=images_v2.size, images_nfiles=3,
        model=md5_of(model), model_size=len(model), metrics=md5_of(metrics), metrics_size=len(metrics),
    ))  # fmt: skip
    commits["c2"] = repo.commit("Images v2 (DVC 3), train", author="Bob Baker", date="2024-02-01T10:00:00+00:00")
    repo.git("tag", "-a", "v1", "-m", "first release", date="2024-02-01T11:00:00+00:00")

    repo.git("checkout", "-q", "-b", "experiment")
    repo.write("data/images.dvc", dvc_file(images_v3.md5, images_v3.size, "images", nfiles=1))
    commits["c3"] = repo.commit("Try fewer images", author="Carol Cook", date="2024-03-01T10:00:00+00:00")

    repo.git("checkout", "-q", "-b", "feature", "main")
    repo.write("data/labels.dvc", dvc_file(md5_of(labels_feature), len(labels_feature), "labels.csv"))
    repo.write("data/extra.dvc", dvc_file(md5_of(extra), len(extra), "extra.bin"))
    commits["c4"] = repo.commit("Labels on feature", author="Dave Dunn", date="2024-03-05T10:00:00+00:00")

    repo.git("checkout", "-q", "main")
    repo.write("data/labels.dvc", dvc_file(md5_of(labels_main), len(labels_main), "labels.csv"))
    commits["c5"] = repo.commit("Labels on main", author="Alice Able", date="2024-03-10T10:00:00+00:00")

    merge_date = "2024-04-01T10:00:00+00:00"
    subprocess.run(["git", "merge", "-q", "--no-ff", "feature"], cwd=repo.path, capture_output=True, check=False)
    repo.write("data/labels.dvc", dvc_file(md5_of(labels_merged), len(labels_merged), "labels.csv"))
    repo.git("add", "-A", author="Erin Ember", date=merge_date)
    repo.git("commit", "-q", "--no-edit", author="Erin Ember", date=merge_date)
    commits["merge"] = repo.git("rev-parse", "HEAD")

    repo.write("pipelines/legacy/dvc.lock", LOCK_LEGACY.format(prepared=prepared.md5))
    repo.write("external/registry.dvc", IMPORT_DVC.format(md5=md5_of(registry), size=len(registry)))
    repo.write("données/échantillon.csv.dvc", dvc_file(md5_of(sample), len(sample), "échantillon.csv"))
    commits["c7"] = repo.commit("Legacy pipeline, import, unicode", author="Frank Fürst",
                                date="2024-05-01T10:00:00+00:00")

    remote.push_dir(images_v1, dvc3=False)
    remote.push_dir(images_v2)
    remote.push_file(model)
    remote.push_file(labels_main)
    remote.push_file(labels_merged)
    remote.push_file(scratch)
    remote.put_raw("files/md5/ff/" + "0" * 30, b"orphan")
    remote.put_raw("runs/ab/cdef/0123/abcdef", b"run cache entry")
    remote.put_raw("files/md5/12/3456789.tmp", b"partial upload")
    return History(
        repo=repo, remote=remote, images_v1=images_v1, images_v2=images_v2, images_v3=images_v3, model=model,
        metrics=metrics, labels_feature=labels_feature, labels_main=labels_main, labels_merged=labels_merged,
        extra=extra, prepared=prepared, registry=registry, sample=sample, scratch=scratch, commits=commits,
    )  # fmt: skip


@pytest.fixture
def history(tmp_path, settings) -> History:
    """The shared scenario, mirrored under the test's own temporary directory."""
    settings.KURA_REPO_MIRROR_ROOT = tmp_path / "mirrors"
    return build_history(tmp_path)


def history_classes(h: History) -> dict[str, ObjectClass]:
    """The class of every object ``build_history`` puts on its remote, once the repository is indexed."""
    return {
        object_key(h.images_v1.md5, dvc3=False, is_dir=True): ObjectClass.HISTORICAL,
        object_key(md5_of(b"jpeg-a"), dvc3=False): ObjectClass.HISTORICAL,
        object_key(md5_of(b"jpeg-b"), dvc3=False): ObjectClass.HISTORICAL,
        object_key(h.images_v2.md5, is_dir=True): ObjectClass.LIVE,
        object_key(md5_of(b"jpeg-a")): ObjectClass.LIVE,
        object_key(md5_of(b"jpeg-b2")): ObjectClass.LIVE,
        object_key(md5_of(b"jpeg-c")): ObjectClass.LIVE,
        object_key(md5_of(h.model)): ObjectClass.LIVE,
        object_key(md5_of(h.labels_main)): ObjectClass.HISTORICAL,
        object_key(md5_of(h.labels_merged)): ObjectClass.LIVE,
        object_key(md5_of(h.scratch)): ObjectClass.UNREFERENCED,  # only on a branch deleted before indexing
        "files/md5/ff/" + "0" * 30: ObjectClass.UNREFERENCED,
        "runs/ab/cdef/0123/abcdef": ObjectClass.RUN_CACHE,
        "files/md5/12/3456789.tmp": ObjectClass.TEMPORARY,
    }
