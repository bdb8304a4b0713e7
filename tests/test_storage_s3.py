"""Scanning a real S3 endpoint (moto in server mode over HTTP)."""

import html
import time
from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from access.leavers import person_depart
from catalog.services import LocationSpec
from storage.listers.base import ListingError
from storage.listers.s3 import read_ahead
from storage.models import Finding, ScanRun, ScanShard
from storage.scanning import scan_plan, scan_request
from tests.factories import bearer, make_dataset, make_person
from tests.storage_support import free_port, make_s3_connection, put_objects, s3_client, scan

pytestmark = pytest.mark.django_db

DVC_KEYS = [f"dvc-store/files/md5/{index:02x}/{'a' * 30}" for index in range(3)]
ODD_KEYS = ["tmp-amara-export/part 1.bin", "tmp-amara-export/ünïcode %41.bin", "tmp-amara-export/deep/x/y.bin"]


def _layout(endpoint: str, bucket: str, signs: int = 5) -> None:
    put_objects(endpoint, bucket, [f"signs/eu/img-{index:04d}.jpg" for index in range(signs)])
    put_objects(endpoint, bucket, ["signs/us/a.jpg", "signs/us/b.jpg", *ODD_KEYS, *DVC_KEYS, "readme.txt",
                                   "nested/a.bin", "nested/inner/b.bin", "empty/"])


def _findings(connection) -> dict[str, Finding]:
    return {finding.key: finding for finding in Finding.objects.filter(connection=connection)}


def test_unregistered_prefixes_are_aggregated_and_registered_ones_are_not(storage_settings, moto_endpoint, bucket,
                                                                          owner):
    _layout(moto_endpoint, bucket, signs=1200)  # more than one page of moto's 1,000 keys
    make_dataset(owner, locations=[LocationSpec(f"s3://{bucket}/signs/eu/")])
    make_dataset(owner, locations=[LocationSpec(f"s3://{bucket}/nested/"), LocationSpec(f"s3://{bucket}/nested/inner/")])
    empty = make_dataset(owner, locations=[LocationSpec(f"s3://{bucket}/empty/")])
    connection = make_s3_connection(moto_endpoint, [bucket])

    run = scan(connection)

    assert run.status == ScanRun.Status.SUCCEEDED
    assert sum(run.shards.values_list("objects_seen", flat=True)) == 1200 + 2 + 3 + 3 + 1 + 2  # folder marker skipped
    findings = _findings(connection)
    unregistered = {f.uri: f for f in findings.values() if f.kind == Finding.Kind.UNREGISTERED}
    assert set(unregistered) == {f"s3://{bucket}/signs/us/", f"s3://{bucket}/tmp-amara-export/",
                                 f"s3://{bucket}/dvc-store/", f"s3://{bucket}/"}
    export = unregistered[f"s3://{bucket}/tmp-amara-export/"]
    assert (export.object_count, export.total_bytes) == (3, 30)
    assert set(export.sample_keys) == {f"s3://{bucket}/{key}" for key in ODD_KEYS}
    assert export.oldest_modified is not None and export.newest_modified >= export.oldest_modified
    assert any("amara" in hint for hint in export.hints) is False  # nobody called amara exists in this test
    assert any("DVC remote" in hint for hint in unregistered[f"s3://{bucket}/dvc-store/"].hints)
    assert unregistered[f"s3://{bucket}/"].object_count == 1  # readme.txt in the bucket root
    missing = [f for f in findings.values() if f.kind == Finding.Kind.MISSING]
    assert [(f.dataset, f.uri) for f in missing] == [(empty, f"s3://{bucket}/empty/")]
    assert "empty" in missing[0].message


def test_findings_are_idempotent_and_close_themselves(storage_settings, moto_endpoint, bucket, owner):
    _layout(moto_endpoint, bucket)
    connection = make_s3_connection(moto_endpoint, [bucket])
    scan(connection)
    first = _findings(connection)

    scan(connection)
    second = _findings(connection)
    assert {key: (f.pk, f.object_count, f.total_bytes) for key, f in first.items()} == {
        key: (f.pk, f.object_count, f.total_bytes) for key, f in second.items()}

    client = s3_client(moto_endpoint)
    for key in ODD_KEYS:
        client.delete_object(Bucket=bucket, Key=key)
    make_dataset(owner, locations=[LocationSpec(f"s3://{bucket}/signs/")])
    scan(connection)

    export = Finding.objects.get(connection=connection, key=f"unregistered:s3://{bucket}/tmp-amara-export/")
    assert (export.status, export.resolution) == (Finding.Status.RESOLVED, "The data is no longer there.")
    signs = Finding.objects.get(connection=connection, key=f"unregistered:s3://{bucket}/signs/")
    assert (signs.status, signs.resolution) == (Finding.Status.RESOLVED, "Registered in the catalog.")
    assert Finding.objects.get(connection=connection, key=f"unregistered:s3://{bucket}/dvc-store/").is_open

    put_objects(moto_endpoint, bucket, ODD_KEYS[:1])
    scan(connection)
    export.refresh_from_db()
    assert (export.status, export.object_count, export.pk) == (Finding.Status.OPEN, 1, first[export.key].pk)


def test_throttling_is_answered_with_retries(storage_settings, moto_endpoint, bucket, fault_proxy):
    endpoint, proxy = fault_proxy
    put_objects(moto_endpoint, bucket, [f"data/{index:04d}" for index in range(40)])
    proxy.throttle = 6
    connection = make_s3_connection(endpoint, [bucket])

    run = scan(connection)

    assert run.status == ScanRun.Status.SUCCEEDED
    assert proxy.throttled == 6
    finding = Finding.objects.get(connection=connection, kind=Finding.Kind.UNREGISTERED)
    assert (finding.uri, finding.object_count) == (f"s3://{bucket}/data/", 40)


def test_denied_credentials_give_a_clear_error_and_missing_findings(storage_settings, moto_endpoint, bucket,
                                                                    fault_proxy, owner):
    endpoint, proxy = fault_proxy
    proxy.deny_key = "kura-test-key"
    put_objects(moto_endpoint, bucket, ["signs/a.jpg"])
    dataset = make_dataset(owner, locations=[LocationSpec(f"s3://{bucket}/signs/")])
    connection = make_s3_connection(endpoint, [bucket])

    run = scan(connection)

    assert run.status == ScanRun.Status.FAILED
    assert run.errors[0]["code"] == "access_denied"
    assert "Access denied listing s3://" in run.errors[0]["message"]
    missing = Finding.objects.get(connection=connection, kind=Finding.Kind.MISSING)
    assert missing.dataset == dataset
    assert missing.message.startswith("Could not be checked: Access denied")


def test_a_permanently_failing_shard_is_recorded_while_the_rest_completes(storage_settings, moto_endpoint, bucket,
                                                                          owner, monkeypatch):
    put_objects(moto_endpoint, bucket, ["good/a.bin", "bad/b.bin", "bad/c.bin"])
    connection = make_s3_connection(moto_endpoint, [bucket])
    from storage.listers import s3 as s3_lister
    from storage.listers.base import ListingError

    original = s3_lister.S3Lister.iter_objects

    def flaky(self, root, shard, start_after):
        if shard.prefix == "bad/":
            raise ListingError("Listing bad/ failed: InternalError (HTTP 500).", code="listing_failed",
                               permanent=False)
        yield from original(self, root, shard, start_after)

    monkeypatch.setattr(s3_lister.S3Lister, "iter_objects", flaky)
    monkeypatch.setattr("storage.scanning.time.sleep", lambda seconds: None)
    storage_settings.KURA_SCAN_SHARD_MAX_ATTEMPTS = 2

    run = scan(connection)

    assert run.status == ScanRun.Status.PARTIAL
    bad = run.shards.get(prefix="bad/")
    assert (bad.status, bad.attempts) == (ScanShard.Status.FAILED, 2)
    assert run.errors == [{"root": bucket, "prefix": "bad/", "code": "listing_failed",
                           "message": "Listing bad/ failed: InternalError (HTTP 500)."}]
    assert Finding.objects.get(connection=connection).uri == f"s3://{bucket}/good/"


def test_ownerless_location_when_the_owner_departed(storage_settings, moto_endpoint, bucket, owner):
    put_objects(moto_endpoint, bucket, ["signs/a.jpg", "signs/b/c.jpg"])  # 10 bytes each
    dataset = make_dataset(owner, locations=[LocationSpec(f"s3://{bucket}/signs/")])
    person_depart(person=owner, actor=None)
    connection = make_s3_connection(moto_endpoint, [f"{bucket}/"])

    scan(connection)

    finding = Finding.objects.get(connection=connection)
    assert (finding.kind, finding.dataset) == (Finding.Kind.OWNERLESS, dataset)
    assert "departed" in finding.message
    # How much data is left behind, so whoever triages it knows what is at stake.
    assert (finding.object_count, finding.total_bytes) == (2, 20)
    assert finding.oldest_modified is not None and finding.newest_modified is not None
    put_objects(moto_endpoint, bucket, ["signs/d.jpg"])
    scan(connection)
    finding.refresh_from_db()
    assert (finding.object_count, finding.total_bytes, finding.status) == (3, 30, Finding.Status.OPEN)


def test_read_ahead_hands_over_every_page_in_order_and_raises_where_the_source_failed():
    def pages():
        yield {"n": 1}
        yield {"n": 2}
        raise ListingError("Listing failed: InternalError (HTTP 500).", code="listing_failed", permanent=False)

    seen = []
    with pytest.raises(ListingError, match="InternalError"):
        for page in read_ahead(pages()):
            seen.append(page["n"])
    assert seen == [1, 2]
    assert [page["n"] for page in read_ahead(iter([{"n": 1}, {"n": 2}, {"n": 3}]))] == [1, 2, 3]


def test_read_ahead_stops_fetching_when_the_caller_stops():
    fetched = []

    def endless():
        while True:
            fetched.append(len(fetched))
            yield {"n": fetched[-1]}

    listing = read_ahead(endless())
    assert [next(listing)["n"] for _ in range(3)] == [0, 1, 2]
    listing.close()
    time.sleep(0.6)  # the fetching thread notices within one hand-over attempt (0.2 s)
    stopped_at = len(fetched)
    time.sleep(0.3)
    assert len(fetched) == stopped_at <= 3 + 2  # at most the page waiting and the one it was handing over


def _waits(monkeypatch) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr("storage.listers.s3._wait", waited.append)
    return waited


def test_missing_default_credentials_fail_the_scan_at_once_naming_the_variables(
        storage_settings, moto_endpoint, bucket, no_default_credentials, monkeypatch):
    put_objects(moto_endpoint, bucket, ["data/a.bin"])
    connection = make_s3_connection(moto_endpoint, [bucket], access_key_env="", secret_key_env="")
    waited = _waits(monkeypatch)

    run = scan(connection)

    assert waited == []  # no retry: waiting does not bring credentials
    assert run.status == ScanRun.Status.FAILED
    assert [error["code"] for error in run.errors] == ["credentials_unavailable"]
    message = run.errors[0]["message"]
    assert connection.name in message and "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set" in message


def test_half_of_the_default_credentials_is_a_final_error_naming_the_missing_one(
        storage_settings, moto_endpoint, bucket, no_default_credentials, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "kura-test-key")
    connection = make_s3_connection(moto_endpoint, [bucket], access_key_env="", secret_key_env="")
    waited = _waits(monkeypatch)

    run = scan(connection)

    assert (waited, run.status, run.errors[0]["code"]) == ([], ScanRun.Status.FAILED, "credentials_unavailable")
    assert "AWS_SECRET_ACCESS_KEY" in run.errors[0]["message"]


def test_an_unreachable_endpoint_says_why_on_the_scan_page_while_it_is_retried(storage_settings, client, api,
                                                                               monkeypatch):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    connection = make_s3_connection(endpoint, ["lake"])
    run = scan_request(connection=connection, trigger="manual")
    staff = make_person("ada", staff=True)
    client.force_login(staff.user)
    api.credentials(HTTP_AUTHORIZATION=bearer(staff))
    seen: list[tuple[str, dict, datetime]] = []

    def wait(seconds: float) -> None:  # what a person sees while the worker waits to retry
        retry_at = ScanRun.objects.get(pk=run.pk).retry_at
        assert retry_at is not None and 0 < (retry_at - timezone.now()).total_seconds() <= seconds
        page = html.unescape(client.get(reverse("frontend:scan", args=[run.pk])).content.decode())
        seen.append((page, api.get(f"/api/v1/storage/scans/{run.pk}/").json()["retrying"], retry_at))

    monkeypatch.setattr("storage.listers.s3._wait", wait)

    scan_plan(run=run)

    assert len(seen) == storage_settings.KURA_S3_MAX_ATTEMPTS == 4
    page, retrying, retry_at = seen[1]
    assert f"Could not reach {endpoint} (listing s3://lake/): connection refused; retry 2 of 4 at " in page
    assert retrying["message"] == f"Could not reach {endpoint} (listing s3://lake/): connection refused"
    assert (retrying["attempt"], retrying["attempts"]) == (2, 4)
    assert f"at {timezone.localtime(retry_at):%H:%M:%S}." in page
    run.refresh_from_db()
    assert run.status == ScanRun.Status.FAILED
    assert run.errors[0]["code"] == "unreachable" and "connection refused" in run.errors[0]["message"]
    assert run.retry_message == ""
    assert "Waiting to retry" not in html.unescape(client.get(reverse("frontend:scan", args=[run.pk])).content.decode())


def test_a_retry_notice_is_cleared_once_the_listing_goes_on(storage_settings, moto_endpoint, bucket, fault_proxy,
                                                           monkeypatch):
    endpoint, proxy = fault_proxy
    put_objects(moto_endpoint, bucket, ["data/a.bin"])
    storage_settings.KURA_S3_MAX_ATTEMPTS = 1
    proxy.throttle = 2  # botocore's own two attempts (one retry), then Kura's first retry comes through
    connection = make_s3_connection(endpoint, [bucket])
    run = scan_request(connection=connection, trigger="manual")
    notices: list[str] = []
    monkeypatch.setattr("storage.listers.s3._wait",
                        lambda seconds: notices.append(ScanRun.objects.get(pk=run.pk).retry_message))

    scan_plan(run=run)

    assert notices and all("SlowDown" in notice for notice in notices)
    assert ScanRun.objects.get(pk=run.pk).retry_message == ""


def test_a_shard_waiting_to_retry_keeps_its_lease(storage_settings, moto_endpoint, bucket):
    """Backing off through an outage can outlast the lease; the worker that still holds the shard keeps it, and a
    worker whose lease was taken over renews nothing."""
    from storage.listers.base import RetryNotice
    from storage.scanning import _retry_recorder

    connection = make_s3_connection(moto_endpoint, [bucket])
    run = scan_request(connection=connection, trigger="manual")
    shard_id = scan_plan(run=run)[0]
    now = timezone.now()
    ScanShard.objects.filter(pk=shard_id).update(lease_token="mine", lease_expires_at=now)
    notice = RetryNotice(message="Could not reach it", attempt=1, attempts=3, at=now)

    _retry_recorder(run.pk, leased=(shard_id, "someone-else"))(notice)
    assert ScanShard.objects.get(pk=shard_id).lease_expires_at == now
    _retry_recorder(run.pk, leased=(shard_id, "mine"))(notice)

    remaining = (ScanShard.objects.get(pk=shard_id).lease_expires_at - timezone.now()).total_seconds()
    assert remaining > storage_settings.KURA_SCAN_LEASE_SECONDS - 10
    assert ScanRun.objects.get(pk=run.pk).retry_message == "Could not reach it"
