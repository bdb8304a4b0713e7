"""``make bench-dvc``: index a generated DVC repository and compare with the git floor, then classify a remote.

Generates (with ``git fast-import``) a repository of BENCH_DVC_COMMITS commits over BENCH_DVC_OUTPUTS outputs
(``.dvc`` files plus multi-stage ``dvc.lock`` files, branches, tags), then measures in the same run:

* the floor: ``git log --all --full-history -m --raw`` piped to one ``git cat-file --batch`` reading every
  changed DVC file once;
* Kura's full index of the same repository into PostgreSQL (target at most 3x the floor);
* Kura's re-index after one new commit (target ≤ 1 s);
* a DVC remote of 50,000 objects built from that index: Kura's classification vs a raw listing (target ≤ 1.5x,
  see bench/dvc_remote.py).
"""

import cProfile
import hashlib
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench import dvc_remote

SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DVC_DB_NAME", "kura_bench_dvc")
COMMITS = int(os.environ.get("BENCH_DVC_COMMITS", "5000"))
OUTPUTS = int(os.environ.get("BENCH_DVC_OUTPUTS", "200"))
LOCK_FILES = 10
STAGES_PER_LOCK = 5
SEED = 20261123


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - content addresses, as DVC uses them


def _dvc_file(name: str, version: int) -> str:
    return (f"outs:\n- md5: {_md5(f'{name}{version}')}.dir\n  size: {1000 + version}\n  nfiles: 3\n"
            f"  hash: md5\n  path: {name}\n")


def _lock_file(lock: int, versions: dict[str, int]) -> str:
    text = "schema: '2.0'\nstages:\n"
    for stage in range(STAGES_PER_LOCK):
        name = f"l{lock}s{stage}"
        text += (f"  {name}:\n    cmd: python run.py {name}\n    outs:\n    - path: out/{name}.bin\n"
                 f"      hash: md5\n      md5: {_md5(name + str(versions[name]))}\n      size: {versions[name]}\n")
    return text


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def generate(path: Path) -> None:
    """A fast-import stream: main with periodic branches merged back, a tag every 100 commits."""
    rng = random.Random(SEED)
    dvc_names = [f"data/set{index:03d}" for index in range(OUTPUTS - LOCK_FILES * STAGES_PER_LOCK)]
    stages = [f"l{lock}s{stage}" for lock in range(LOCK_FILES) for stage in range(STAGES_PER_LOCK)]
    versions = {name: 0 for name in dvc_names + stages}
    stream = bytearray()
    for number in range(1, COMMITS + 1):
        stream += b"commit refs/heads/main\n"
        stream += b"mark :%d\n" % number
        stream += b"author Bench <bench@example.com> %d +0000\n" % (1_600_000_000 + number * 60)
        stream += b"committer Bench <bench@example.com> %d +0000\n" % (1_600_000_000 + number * 60)
        stream += _data(f"change {number}")
        if number > 1:
            stream += b"from :%d\n" % (number - 1)
        touched = dvc_names + [f"lock{lock}" for lock in range(LOCK_FILES)] if number == 1 else rng.sample(
            dvc_names + [f"lock{lock}" for lock in range(LOCK_FILES)], 2
        )
        for target in touched:
            if target.startswith("lock"):
                lock = int(target[4:])
                if number > 1:
                    versions[f"l{lock}s{rng.randrange(STAGES_PER_LOCK)}"] += 1
                stream += f"M 100644 inline pipelines/p{lock}/dvc.lock\n".encode() + _data(_lock_file(lock, versions))
            else:
                versions[target] += number > 1
                stream += f"M 100644 inline {target}.dvc\n".encode() + _data(_dvc_file(target, versions[target]))
        if number % 100 == 0:
            stream += f"reset refs/tags/r{number}\nfrom :{number}\n\n".encode()
        if number % 500 == 0:
            stream += f"reset refs/heads/release-{number}\nfrom :{number}\n\n".encode()
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=bytes(stream), check=True)


def floor_seconds(repo: Path) -> float:
    """git log over all refs plus one cat-file --batch reading every changed DVC file: the least any indexer does."""
    started = time.perf_counter()
    log = subprocess.run(
        ["git", "log", "--all", "--full-history", "-m", "--raw", "--no-renames", "--no-abbrev", "-z",
         "--format=%x01%H%x00%P%x00%an%x00%ae%x00%aI", "--", "*.dvc", "dvc.lock", "*/dvc.lock", ".dvc/config"],
        cwd=repo, capture_output=True, check=True,
    ).stdout  # fmt: skip
    blobs = {token.split()[3] for token in log.split(b"\0") if token.lstrip(b"\n").startswith(b":")}
    subprocess.run(["git", "cat-file", "--batch"], cwd=repo, input=b"\n".join(blobs) + b"\n",
                   stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> int:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
    os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "kura.settings.base"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import override_settings

    from storage.dvc.indexer import training_repo_index
    from storage.dvc.repos import training_repo_create
    from storage.models import DvcReference

    call_command("migrate", verbosity=0)
    with tempfile.TemporaryDirectory() as scratch, override_settings(KURA_REPO_MIRROR_ROOT=Path(scratch) / "m"):
        source = Path(scratch) / "source.git"
        started = time.perf_counter()
        generate(source)
        print(f"generated {COMMITS} commits over {OUTPUTS} outputs in {time.perf_counter() - started:.1f}s")
        repo = training_repo_create(actor=None, name="bench/repo", url=str(source))
        from storage.dvc.git_history import mirror_sync

        mirror_sync(repo.url, repo.mirror_path)  # cloning is the network's cost, not the indexer's
        floor = floor_seconds(repo.mirror_path)
        profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
        started = time.perf_counter()
        if profiler is not None and not os.environ.get("BENCH_PROFILE_REMOTE_ONLY"):
            profiler.enable()
        result = training_repo_index(repo=repo, fetch=False)
        full = time.perf_counter() - started
        if profiler is not None and not os.environ.get("BENCH_PROFILE_REMOTE_ONLY"):
            profiler.disable()
            pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE", "cumulative")).print_stats(30)
        # One more commit upstream, then fetch + index it.
        subprocess.run(["git", "fast-import", "--quiet"], cwd=source, check=True, input=(
            b"commit refs/heads/main\nauthor B <b@example.com> 1900000000 +0000\n"
            b"committer B <b@example.com> 1900000000 +0000\n" + _data("one more") + b"from refs/heads/main^0\n"
            + b"M 100644 inline data/set000.dvc\n" + _data(_dvc_file("data/set000", 999_999))
        ))  # fmt: skip
        started = time.perf_counter()
        again = training_repo_index(repo=repo)
        incremental = time.perf_counter() - started
        remote_figures = dvc_remote.measure(Path(scratch), repo)
    rows = DvcReference.objects.count()
    ratio = full / floor
    print(f"floor (git log --raw | cat-file --batch): {floor:.2f}s")
    print(f"Kura full index: {full:.2f}s = {ratio:.2f}x floor  [{'PASS' if ratio <= 3 else 'MISS'} ≤ 3x]; "
          f"{result.commits_read} commits, {rows} references, {result.blobs_read} blobs")
    print(f"Kura re-index after one commit (fetch included): {incremental:.2f}s "
          f"[{'PASS' if incremental <= 1 else 'MISS'} ≤ 1 s]; {again.commits_read} commit read")
    dvc_remote.report(remote_figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
