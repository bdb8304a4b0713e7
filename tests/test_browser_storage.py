"""A scan's findings in Chromium: see unregistered data on the dashboard, open it, claim it as a dataset."""

import pytest
from playwright.sync_api import expect

from catalog.models import Dataset
from tests.browser_support import sign_in
from tests.factories import make_person
from tests.storage_support import make_local_connection, scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_claim_unregistered_data_found_by_a_scan(page, live_server, storage_settings, tmp_path, unit):
    share = tmp_path / "mnt" / "share" / "tmp-amara-export"
    share.mkdir(parents=True)
    for index in range(3):
        (share / f"crop-{index}.png").write_bytes(b"p" * 2048)
    make_person("ada", unit=unit, staff=True, display_name="Ada Admin")
    scan(make_local_connection([str(tmp_path / "mnt" / "share")], name="nas"))
    base = live_server.url

    sign_in(page, base, "ada")
    page.get_by_role("link", name="Storage", exact=True).click()
    expect(page.get_by_role("heading", name="Storage findings")).to_be_visible()
    expect(page.get_by_text("6.0 KB").first).to_be_visible()
    page.get_by_role("link", name=f"file://{share}/").click()

    page.get_by_label("Name").fill("Amara's sign crops")
    page.get_by_label("Purpose").fill("Sign crops exported for relabelling; keep for the EU detector.")
    page.get_by_role("button", name="Claim as a draft dataset").click()

    expect(page.get_by_text("You own 'Amara's sign crops' now, as a draft")).to_be_visible()
    dataset = Dataset.objects.get(name="Amara's sign crops")
    assert dataset.status == Dataset.Status.DRAFT and dataset.owner.user.username == "ada"
    assert list(dataset.locations.values_list("uri", flat=True)) == [f"file://{share}/"]
