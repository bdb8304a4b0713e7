"""In Chromium: a dataset's datasheet leaves Kura as a Croissant file and comes back as a draft from it."""

import json

import pytest
from playwright.sync_api import expect

from catalog.datasheet import FIELD_NAMES
from catalog.models import Dataset
from tests.browser_support import sign_in
from tests.factories import make_dataset
from tests.test_datasheet import ANSWERS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_download_the_croissant_file_and_import_it_as_a_draft(page, live_server, owner, tmp_path):
    make_dataset(owner, slug="street-signs", name="Street signs", datasheet=ANSWERS, tags=["vision"])
    base = live_server.url
    sign_in(page, base, "olivia")

    page.goto(f"{base}/datasets/street-signs/")
    datasheet = page.locator("#datasheet")
    expect(datasheet).to_contain_text(ANSWERS["known_biases"])
    with page.expect_download() as download:
        datasheet.get_by_role("link", name="Croissant").click()
    assert download.value.suggested_filename == "street-signs.croissant.json"
    exported = tmp_path / "street-signs.croissant.json"
    download.value.save_as(exported)
    assert json.loads(exported.read_text())["rai:dataBiases"] == ANSWERS["known_biases"]

    page.goto(f"{base}/")
    page.get_by_role("link", name="Import from Croissant").click()
    page.get_by_label("Croissant file").set_input_files(exported)
    page.get_by_label("Slug").fill("street-signs-copy")
    page.get_by_role("button", name="Import as draft").click()

    expect(page).to_have_url(f"{base}/datasets/street-signs-copy/edit/")
    expect(page.locator(".flash").first).to_contain_text("Imported 'Street signs' as a draft")
    expect(page.get_by_label("Known biases")).to_have_value(ANSWERS["known_biases"])
    copy = Dataset.objects.get(slug="street-signs-copy")
    assert copy.status == Dataset.Status.DRAFT
    assert {name: getattr(copy, name) for name in FIELD_NAMES} == ANSWERS
