"""The embedded stack (`make run`: SQLite) serves the pages whose statements are written out by hand.

The rest of the suite runs on PostgreSQL, where those statements take PostgreSQL-only paths (LATERAL joins,
array aggregates); this runs a fresh SQLite database, migrated and loaded with the demo, in a child process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_embedded_database_answers_search_list_and_lookup(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KURA_", "DJANGO_", "DATABASE"))}
    env.update(
        KURA_DATA_DIR=str(tmp_path),  # where the embedded database lives too, with no DATABASE_URL set
        KURA_LOCAL_ROOTS=str(tmp_path / "demo-storage"),
        CELERY_BROKER_URL="memory://",
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "embedded_check.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "kura.sqlite3").is_file()
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    search, listed = seen["api_search"], seen["api_list"]
    assert search["status"] == 200 and listed["status"] == 200
    slugs = [item["slug"] for item in search["body"]["results"]]
    assert "street-signs-eu" in slugs and search["body"]["count"] == len(slugs)
    eu = next(item for item in search["body"]["results"] if item["slug"] == "street-signs-eu")
    assert eu["owner"]["username"] and eu["owning_unit"]["name"] and eu["tags"]
    assert listed["body"]["count"] >= 12 and len(listed["body"]["results"]) == listed["body"]["count"]

    datasheet = seen["datasheet_search"]  # the demo's EU signs say so only in their datasheet
    assert [item["slug"] for item in datasheet["body"]["results"]] == ["street-signs-eu"]

    lookup = seen["lookup"]
    assert lookup["status"] == 200 and lookup["body"]["locations"], lookup
    page = seen["page_search"]
    assert page["status"] == 200 and "street-signs-eu" in page["body"]
    for tag in eu["tags"]:
        assert f'<span class="tag">{tag}</span>' in page["body"]
    assert seen["dvc_manifests"] == {"saved": [150, 300], "manifests": 300, "members": 600}
