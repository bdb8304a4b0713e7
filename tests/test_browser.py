"""End to end in Debian's Chromium, driven by Playwright against pytest-django's live server.

Never downloads a browser: ``make test`` (``make chromium``) installs Debian's ``chromium`` package.
"""

import json
import re

import pytest
from playwright.sync_api import expect

from annotations.models import GuidelineRevision
from catalog.models import Dataset, StorageLocation
from tests.browser_support import sign_in
from tests.factories import make_dataset

SCHEMA = {
    "classes": [
        {
            "name": "stop",
            "definition": "A red octagonal stop sign.",
            "attributes": [{"name": "occluded", "type": "boolean"}],
        }
    ]
}

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_register_a_dataset_and_find_it_with_live_search(page, live_server, owner):
    make_dataset(owner, slug="lane-markings", name="Lane markings", purpose="Segmentation of lane markings.")
    base = live_server.url
    sign_in(page, base, "olivia")

    page.get_by_role("link", name="Register a dataset").click()
    expect(page).to_have_url(f"{base}/datasets/new/")
    page.get_by_label("Name").fill("Street signs (EU)")
    page.get_by_label("Slug").fill("street-signs-eu")
    page.get_by_label("Purpose").fill("Training the street-sign detector for the EU fleet.")
    page.get_by_label(re.compile(r"^Owner\b")).select_option(label="Olivia Owner (olivia)")
    page.get_by_label("Owning unit").select_option(label="Perception")
    page.locator("#id_locations-0-uri").fill("https://example.com/signs")
    page.get_by_label("Annotation rules").fill("Draw a **tight box** around every sign.\n\n* Ignore reflections.")
    page.get_by_label("Label schema (JSON)").fill(json.dumps(SCHEMA, indent=2))

    # An invalid storage URI: the form comes back with the error next to the row and nothing is saved.
    page.get_by_role("button", name="Register dataset").click()
    expect(page.locator("#errorsummary")).to_contain_text("Nothing was saved yet")
    row_error = page.locator("#locations .errors")
    expect(row_error).to_contain_text("'https://example.com/signs' is not a supported storage URI")
    expect(page.get_by_label("Name")).to_have_value("Street signs (EU)")  # what was typed is kept
    assert not Dataset.objects.filter(slug="street-signs-eu").exists()
    assert StorageLocation.objects.count() == 1  # only lane-markings' location
    assert not GuidelineRevision.objects.exists()

    # Fix it and add a second location with the "Add another location" button.
    page.locator("#id_locations-0-uri").fill("s3://kura-data/signs/eu/")
    page.get_by_role("button", name="Add another location").click()
    expect(page.locator("#id_locations-1-uri")).to_be_focused()
    page.locator("#id_locations-1-uri").fill("gs://kura-mirror/signs/eu/")
    page.locator("#id_locations-1-role").select_option("mirror")
    page.get_by_role("button", name="Register dataset").click()

    expect(page).to_have_url(f"{base}/datasets/street-signs-eu/")
    expect(page.get_by_role("heading", name="Street signs (EU)", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Saved 'Street signs (EU)'.")
    expect(page.locator("main")).to_contain_text("Training the street-sign detector for the EU fleet.")
    expect(page.locator("main")).to_contain_text("s3://kura-data/signs/eu/")
    expect(page.locator("main")).to_contain_text("gs://kura-mirror/signs/eu/")
    expect(page.locator(".prose strong", has_text="tight box")).to_be_visible()
    expect(page.locator("main")).to_contain_text("A red octagonal stop sign.")
    dataset = Dataset.objects.get(slug="street-signs-eu")
    assert sorted(dataset.locations.values_list("uri", "role")) == [
        ("gs://kura-mirror/signs/eu/", "mirror"),
        ("s3://kura-data/signs/eu/", "primary"),
    ]
    assert GuidelineRevision.objects.get(guideline__dataset=dataset).label_schema == SCHEMA

    # The list searches as you type (htmx), without reloading the page.
    page.get_by_role("link", name="Datasets", exact=True).click()
    expect(page).to_have_url(f"{base}/")
    results = page.locator("#results")
    expect(results).to_contain_text("Lane markings")
    expect(results).to_contain_text("Street signs (EU)")
    page.evaluate("window.notReloaded = true")
    page.locator("#search").press_sequentially("stree", delay=40)
    expect(results).not_to_contain_text("Lane markings")
    expect(results.get_by_role("link", name="Street signs (EU)")).to_be_visible()
    expect(results).to_contain_text("1 dataset matches")
    assert page.evaluate("window.notReloaded") is True
    expect(page).to_have_url(f"{base}/?search=stree&status=&unit=&tag=")

    results.get_by_role("link", name="Street signs (EU)").click()
    expect(page).to_have_url(f"{base}/datasets/street-signs-eu/")


def test_the_successor_field_suggests_datasets_as_you_type(page, live_server, owner):
    make_dataset(owner, slug="lane-markings", name="Lane markings")
    make_dataset(owner, slug="street-signs", name="Street signs")
    base = live_server.url
    sign_in(page, base, "olivia")
    page.goto(f"{base}/datasets/street-signs/edit/")

    page.get_by_label("Superseded by").press_sequentially("lane", delay=40)

    expect(page.locator('#successor-suggestions option[value="lane-markings"]')).to_have_count(1)
    page.get_by_label("Superseded by").fill("lane-markings")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(f"{base}/datasets/street-signs/")
    assert Dataset.objects.get(slug="street-signs").superseded_by == Dataset.objects.get(slug="lane-markings")
