"""A real `manage.py scan` process killed with SIGKILL mid-scan, then resumed: exact counts, nothing twice."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection as db
from django.utils import timezone

from storage.models import Finding, ScanRun, ScanShard
from storage.scanning import scan_request, scan_run_inline
from tests.storage_support import make_local_connection

FILES = 20_000


@pytest.mark.django_db(transaction=True)
def test_kill_9_mid_scan_then_resume_counts_every_file_once(storage_settings, tmp_path):
    data = tmp_path / "mnt" / "share" / "dump"
    for folder in range(20):
        directory = data / f"batch-{folder:02d}"
        directory.mkdir(parents=True)
        for index in range(FILES // 20):
            (directory / f"{index:05d}.bin").write_bytes(b"ab")
    connection = make_local_connection([str(data.parent)], name="nas")
    settings_db = db.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kura.settings.base", "KURA_LOCAL_ROOTS": str(tmp_path / "mnt"),
           "DATABASE_URL": f"postgres://{settings_db['USER']}:{settings_db.get('PASSWORD') or ''}@"
                           f"{settings_db['HOST']}:{settings_db['PORT']}/{settings_db['NAME']}",
           "KURA_SCAN_CHECKPOINT_EVERY": "500"}
    worker = subprocess.Popen([sys.executable, "manage.py", "scan", "nas"], cwd=Path(__file__).parent.parent, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if ScanShard.objects.filter(run__connection=connection, objects_seen__gte=1000).exists():
                break
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    run = ScanRun.objects.get(connection=connection)
    shard = run.shards.get(prefix="dump/")
    assert run.status == ScanRun.Status.RUNNING and shard.status == ScanShard.Status.RUNNING
    assert 0 < shard.objects_seen < FILES  # killed part-way, after at least one checkpoint

    ScanShard.objects.filter(pk=shard.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    run = scan_run_inline(run=scan_request(connection=connection, trigger="cli"))

    assert run.status == ScanRun.Status.SUCCEEDED
    shard.refresh_from_db()
    assert (shard.objects_seen, shard.bytes_seen, shard.attempts) == (FILES, 2 * FILES, 2)
    finding = Finding.objects.get(connection=connection)
    assert (finding.uri, finding.object_count, finding.total_bytes) == (f"file://{data}/", FILES, 2 * FILES)
