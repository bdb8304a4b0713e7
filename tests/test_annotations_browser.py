"""The guideline page in Debian's Chromium: upload a correction example and compare revisions with htmx."""

import os

import pytest
from playwright.sync_api import expect

from annotations.models import CorrectionExample
from annotations.services import guideline_revise
from tests.browser_support import sign_in
from tests.factories import make_dataset
from tests.image_bytes import png

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RULES = "## Boxes\n\nBox each sign.\n\n## Occlusion\n\nBox the visible part."


def test_upload_an_example_and_compare_revisions(page, live_server, owner, tmp_path):
    dataset = make_dataset(owner, slug="street-signs", name="Street signs")
    guideline_revise(dataset=dataset, body="## Boxes\n\nBox each sign.", label_schema={}, actor=owner)
    guideline_revise(dataset=dataset, body=RULES, label_schema={}, actor=owner, change_note="Occlusion rule")
    before, fake = tmp_path / "loose.png", tmp_path / "page.png"
    before.write_bytes(png(40, 30, (250, 160, 0)))
    fake.write_bytes(b"<html><script>alert(1)</script></html>")
    base = live_server.url
    sign_in(page, base, "olivia")

    page.goto(f"{base}/datasets/street-signs/")
    page.get_by_role("link", name="Revisions, correction examples and export →").click()
    expect(page.get_by_role("heading", name="Annotation rules", exact=True)).to_be_visible()

    page.get_by_label("Rule it clarifies").select_option(label="Occlusion")
    page.get_by_label("Before: image").set_input_files(str(fake))
    page.get_by_label("After: annotation snippet").fill('{"box": [1, 2, 3, 4]}')
    page.get_by_label("Explanation").fill("Only the visible part.")
    page.get_by_role("button", name="Add example").click()
    expect(page.locator(".has-error")).to_contain_text("This file is HTML or XML, not an image")

    page.get_by_label("Rule it clarifies").select_option(label="Occlusion")
    page.get_by_label("Before: image").set_input_files(str(before))
    page.get_by_label("After: annotation snippet").fill('{"box": [1, 2, 3, 4]}')
    page.get_by_label("Explanation").fill("Only the **visible** part.")
    page.get_by_role("button", name="Add example").click()
    expect(page.locator(".flash")).to_contain_text("Correction example added.")
    image = page.locator("#examples figure.before img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 40  # the browser really decoded the stored file
    assert CorrectionExample.objects.count() == 1

    page.locator("#compare-from").select_option("2")
    page.locator("#compare-to").select_option("1")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#diff h3").first).to_contain_text("Revision 2 → revision 1")
    expect(page.locator("#diff tr.diff-removed", has_text="## Occlusion")).to_have_count(1)
    expect(page).to_have_url(f"{base}/datasets/street-signs/guideline/#examples")  # swapped in place by htmx
    if os.environ.get("KURA_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["KURA_SCREENSHOTS"], "guideline.png"), full_page=True)


def test_compare_from_the_first_revision(page, live_server, owner):
    dataset = make_dataset(owner, slug="street-signs", name="Street signs")
    guideline_revise(dataset=dataset, body="## Boxes\n\nBox each sign.", label_schema={}, actor=owner)
    guideline_revise(dataset=dataset, body=RULES, label_schema={}, actor=owner)
    base = live_server.url
    sign_in(page, base, "olivia")

    # Where a version labelled under revision 1 links to: nothing older to show, but Compare still works.
    page.goto(f"{base}/datasets/street-signs/guideline/?revision=1")
    expect(page.locator("#compare-from")).to_have_value("1")
    expect(page.locator("#compare-to")).to_have_value("2")
    page.get_by_role("button", name="Compare").click()

    expect(page.locator("#diff h3").first).to_contain_text("Revision 1 → revision 2")
    expect(page.locator("#diff tr.diff-added", has_text="## Occlusion")).to_have_count(1)
