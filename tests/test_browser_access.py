"""Asking for access and approving it, end to end in Chromium: two people, two browser sessions."""

import re

import pytest
from playwright.sync_api import expect

from access.models import AccessRequest, Grant, Level
from catalog.services import LocationSpec
from tests.browser_support import sign_in
from tests.factories import make_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCATION = "s3://kura-data/signs/eu/"


def test_request_then_approve_then_the_requester_reads_the_locations(browser, page, live_server, owner, colleague):
    make_dataset(owner, slug="street-signs", name="Street signs", locations=[LocationSpec(LOCATION)])
    base = live_server.url

    # Carl can read the documentation but not the storage locations, so he asks.
    sign_in(page, base, "carl")
    page.goto(f"{base}/datasets/street-signs/")
    panel = page.locator("#access-panel")
    expect(panel.get_by_role("heading", name="Access to the data")).to_be_visible()
    expect(page.get_by_text(LOCATION)).to_have_count(0)
    panel.get_by_role("radio", name=re.compile(r"^Read data")).check()
    panel.get_by_label("Purpose").fill("Evaluate the night-time detector on EU signs.")
    panel.get_by_label("For how many days").fill("30")
    panel.get_by_role("button", name="Request access").click()
    expect(panel.get_by_text("Your request was sent. Olivia Owner decides it")).to_be_visible()
    expect(panel.get_by_text("Pending")).to_be_visible()
    request = AccessRequest.objects.get()
    assert (request.requester, request.level, request.status) == (colleague, Level.READ, AccessRequest.Status.PENDING)

    # Olivia, in her own session, finds it in her inbox and approves it in place.
    owner_context = browser.new_context(viewport={"width": 1366, "height": 800})
    try:
        approver = owner_context.new_page()
        approver.set_default_timeout(10_000)
        sign_in(approver, base, "olivia")
        approver.get_by_role("link", name="Inbox").click()
        row = approver.locator(f"#request-{request.pk}")
        expect(row).to_contain_text("Carl Colleague")
        row.get_by_label("Comment").fill("Fine for the evaluation.")
        row.get_by_role("button", name="Approve").click()
        expect(approver.locator(f"#request-{request.pk}")).to_contain_text("Approved")
    finally:
        owner_context.close()

    granted = Grant.objects.get(request=request)
    assert granted.grantee_person == colleague and granted.level == Level.READ

    # Carl reloads the dataset page: the locations are there and the request panel is gone.
    page.reload()
    expect(page.get_by_text(LOCATION)).to_be_visible()
    expect(page.locator("#access-panel")).to_have_count(0)
    page.goto(f"{base}/access/requests/")
    expect(page.get_by_text("Fine for the evaluation.")).to_be_visible()
