"""The storage pages through Django's test client, on findings from real scans of temporary directories."""

import html

import pytest
from django.urls import reverse

from access.leavers import person_depart
from access.models import Membership
from access.org import membership_start
from catalog.models import Dataset
from catalog.services import LocationSpec
from storage.dvc.repos import training_repo_create
from storage.models import Finding, ScanRun, StorageConnection
from tests.factories import make_dataset, make_person
from tests.storage_support import make_local_connection, scan, write_parts

pytestmark = pytest.mark.django_db


@pytest.fixture
def share(storage_settings, tmp_path):
    root = tmp_path / "mnt" / "share"
    write_parts(root / "signs", 2)
    write_parts(root / "tmp-amara-export", 7, size=1000)
    write_parts(root / "old-experiments" / "kws-augmented", 3)
    return root


@pytest.fixture
def scanned(share, owner):
    make_dataset(owner, slug="signs", locations=[LocationSpec(f"file://{share}/signs/")])
    connection = make_local_connection([str(share)], name="nas")
    return connection, scan(connection)


@pytest.fixture
def steward(unit):
    person = make_person("stella", unit=unit, display_name="Stella Steward")
    membership_start(person=person, unit=unit, role=Membership.Role.STEWARD)
    return person


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def test_dashboard_shows_unregistered_data_with_totals_and_charts(client, scanned, steward, share):
    client.force_login(steward.user)

    page = page_text(client.get(reverse("frontend:findings")))

    assert f"file://{share}/tmp-amara-export/" in page and f"file://{share}/old-experiments/" in page
    assert f"file://{share}/signs/" not in page  # registered
    assert "7.1 KB" in page  # 7,000 + 300 bytes unaccounted
    assert "By connection" in page and "By age of the newest file" in page and "By likely owner" in page
    assert "2 findings" in page


def test_dashboard_filters_and_htmx_returns_only_the_results(client, scanned, steward, share):
    client.force_login(steward.user)

    response = client.get(reverse("frontend:findings"), {"q": "amara", "status": "open"},
                          headers={"HX-Request": "true"})

    text = page_text(response)
    assert "<html" not in text and "1 finding" in text
    assert "tmp-amara-export" in text and "old-experiments" not in text


def test_people_who_do_not_triage_see_only_what_is_assigned_to_them(client, scanned, steward, colleague):
    finding = Finding.objects.get(uri__endswith="/tmp-amara-export/")
    client.force_login(colleague.user)
    assert "0 findings" in page_text(client.get(reverse("frontend:findings")))
    assert client.get(reverse("frontend:finding", args=[finding.pk])).status_code == 404
    assert client.get(reverse("frontend:scans")).status_code == 403

    client.force_login(steward.user)
    client.post(reverse("frontend:finding-assign", args=[finding.pk]), {"assignee": colleague.pk, "note": "yours?"})

    client.force_login(colleague.user)
    page = page_text(client.get(reverse("frontend:finding", args=[finding.pk])))
    assert "Claim as a draft dataset" in page and "Dismiss" not in page
    dismissed = client.post(reverse("frontend:finding-dismiss", args=[finding.pk]), {"reason": "not mine"})
    assert dismissed.status_code == 403


def test_claim_creates_a_draft_dataset_owned_by_the_claimer(client, scanned, steward, share):
    finding = Finding.objects.get(uri__endswith="/tmp-amara-export/")
    client.force_login(steward.user)

    response = client.post(reverse("frontend:finding-claim", args=[finding.pk]),
                           {"name": "Amara's export", "purpose": "Sign crops exported for relabelling."})

    dataset = Dataset.objects.get(name="Amara's export")
    assert response.status_code == 302 and response["Location"] == reverse("frontend:dataset-edit",
                                                                           args=[dataset.slug])
    assert dataset.status == Dataset.Status.DRAFT and dataset.owner == steward
    assert list(dataset.locations.values_list("uri", flat=True)) == [f"file://{share}/tmp-amara-export/"]
    finding.refresh_from_db()
    assert finding.status == Finding.Status.CLAIMED and finding.claimed_by == steward
    again = client.post(reverse("frontend:finding-claim", args=[finding.pk]), {})
    assert again.status_code == 400 and "already been claimed" in page_text(again)
    assert Dataset.objects.filter(name="Amara's export").count() == 1


def test_dismiss_needs_a_reason_and_closes_the_finding(client, scanned, steward):
    finding = Finding.objects.get(uri__endswith="/old-experiments/")
    client.force_login(steward.user)

    refused = client.post(reverse("frontend:finding-dismiss", args=[finding.pk]), {"reason": ""})
    assert refused.status_code == 400 and "This field is required" in page_text(refused)
    finding.refresh_from_db()
    assert finding.status == Finding.Status.OPEN

    done = client.post(reverse("frontend:finding-dismiss", args=[finding.pk]),
                       {"reason": "Scratch space, wiped weekly."})
    assert done.status_code == 302
    finding.refresh_from_db()
    assert finding.status == Finding.Status.DISMISSED and finding.dismissal_reason == "Scratch space, wiped weekly."
    assert "old-experiments" not in page_text(client.get(reverse("frontend:findings")))  # open ones by default
    assert "old-experiments" in page_text(client.get(reverse("frontend:findings"), {"status": "dismissed"}))


def test_scan_pages_show_progress_and_staff_start_scans(client, scanned, share):
    connection, run = scanned
    admin = make_person("ada", staff=True)
    client.force_login(admin.user)

    listing = page_text(client.get(reverse("frontend:scans")))
    assert "nas" in listing and "Scan now" in listing and "Succeeded" in listing
    detail = page_text(client.get(reverse("frontend:scan", args=[run.pk])))
    assert "12" in detail and "shards done" in detail and str(share) in detail
    assert 'hx-trigger="every 2s"' not in detail  # a finished scan stops polling

    started = client.post(reverse("frontend:scan-start", args=[connection.pk]))

    new_run = ScanRun.objects.exclude(pk=run.pk).get()
    assert started.status_code == 302 and started["Location"] == reverse("frontend:scan", args=[new_run.pk])
    live = page_text(client.get(reverse("frontend:scan", args=[new_run.pk])))
    assert 'hx-trigger="every 2s"' in live  # still queued: the page keeps polling


def test_only_staff_start_scans(client, scanned, steward):
    connection, _ = scanned
    client.force_login(steward.user)
    assert client.post(reverse("frontend:scan-start", args=[connection.pk])).status_code == 403
    assert ScanRun.objects.count() == 1


def test_staff_add_a_local_connection_and_see_clear_errors(client, storage_settings, tmp_path):
    admin = make_person("ada", staff=True)
    client.force_login(admin.user)
    share = tmp_path / "mnt" / "nas"
    share.mkdir()
    url = reverse("frontend:connection-new")

    escaping = client.post(url, {"name": "nas", "kind": "local", "roots": f"{tmp_path}/mnt/../../etc"})
    assert escaping.status_code == 400 and "KURA_LOCAL_ROOTS" in page_text(escaping)
    secret = client.post(url, {"name": "raw", "kind": "s3", "roots": "ml-raw", "endpoint_url": "http://169.254.169.254",
                               "access_key_env": "AKIAIOSFODNN7EXAMPLE/abc", "secret_key_env": "X"})
    assert secret.status_code == 400
    assert not StorageConnection.objects.exists()

    added = client.post(url, {"name": "nas", "kind": "local", "roots": f"{share}\n", "schedule_minutes": "60"})

    assert added.status_code == 302 and added["Location"] == reverse("frontend:scans")
    connection = StorageConnection.objects.get(name="nas")
    assert connection.roots == [str(share)] and connection.schedule_minutes == 60 and connection.created_by == admin
    assert "Scan now" in page_text(client.get(reverse("frontend:scans")))


def test_only_staff_add_connections(client, steward):
    client.force_login(steward.user)
    assert client.get(reverse("frontend:connection-new")).status_code == 403


def test_a_dvc_remote_connection_links_the_repositories_that_push_to_it(client, storage_settings, tmp_path):
    admin = make_person("ada", staff=True)
    client.force_login(admin.user)
    remote = tmp_path / "mnt" / "dvc-remote"
    remote.mkdir()
    repos = [training_repo_create(actor=None, name=name, url=f"https://git.example.com/{name}.git")
             for name in ("signs", "speech")]
    url = reverse("frontend:connection-new")

    not_dvc = client.post(url, {"name": "remote", "kind": "local", "roots": str(remote),
                                "dvc_repos": [repos[0].pk]})
    assert not_dvc.status_code == 400 and "Only a DVC remote links training repositories" in page_text(not_dvc)

    added = client.post(url, {"name": "remote", "kind": "local", "roots": str(remote), "is_dvc_remote": "on",
                              "dvc_repos": [repo.pk for repo in repos]})

    assert added.status_code == 302
    connection = StorageConnection.objects.get(name="remote")
    assert connection.is_dvc_remote
    assert sorted(connection.dvc_repos.values_list("name", flat=True)) == ["signs", "speech"]


def test_scan_now_on_a_disabled_connection_says_why(client, scanned):
    connection, _ = scanned
    StorageConnection.objects.filter(pk=connection.pk).update(enabled=False)
    client.force_login(make_person("ada", staff=True).user)

    response = client.post(reverse("frontend:scan-start", args=[connection.pk]), follow=True)

    assert response.status_code == 200 and "is disabled" in page_text(response)
    assert ScanRun.objects.count() == 1


def test_left_behind_lists_what_a_leaver_left_in_storage(client, storage_settings, tmp_path, unit, owner, steward):
    amara = make_person("amara", unit=unit, display_name="Amara Okafor")
    make_dataset(amara, slug="amara-signs")
    share = tmp_path / "mnt" / "share"
    write_parts(share / "tmp-amara-export", 3)
    write_parts(share / "someone-else", 2)
    scan(make_local_connection([str(share)], name="nas"))
    person_depart(person=amara, actor=None)
    client.force_login(steward.user)

    page = page_text(client.get(reverse("frontend:left-behind")))

    assert "Also in storage, pointing to Amara Okafor" in page
    assert f"file://{share}/tmp-amara-export/" in page and "someone-else" not in page
