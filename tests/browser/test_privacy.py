"""Privacy in the browser: two visitors (two browser contexts, two cookie jars) see only their own history and
cannot delete each other's results, the admin sees both; another site's page cannot post to the service; the
page and the results carry the security headers and the page runs under its Content-Security-Policy."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from testkit.pictures import BLUE, RED
from testkit.service import TOKEN
from tests.browser.actions import Site, convert, open_page, png

ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def other_page(browser: Browser, site: Site) -> Iterator[Page]:
    """A second visitor: a browser context of its own, so a cookie jar of its own."""
    yield from open_page(browser, site)


def history_ids(page: Page) -> list[str]:
    return [item["id"] for item in page.request.get("/api/history?per_page=100").json()["items"]]


def test_two_visitors_see_only_their_own_history_and_the_admin_sees_both(page: Page, other_page: Page, caption_of):
    red, blue = png("red.png", RED), png("blue.png", BLUE)
    page.goto("/")
    other_page.goto("/")
    mine = convert(page, red, caption_of.spoken(red["buffer"]))
    theirs = convert(other_page, blue, caption_of.spoken(blue["buffer"]))

    for visitor, own, other in ((page, mine, theirs), (other_page, theirs, mine)):
        visitor.reload()  # the history as the server lists it to this visitor
        expect(visitor.locator(f'#history li[data-id="{own}"]')).to_have_count(1)
        expect(visitor.locator(f'#history li[data-id="{other}"]')).to_have_count(0)
        assert own in history_ids(visitor) and other not in history_ids(visitor)

    refused = other_page.request.delete(f"/api/history/{mine}")
    assert refused.status == 404 and refused.json()["error"]["code"] == "result_not_found"
    page.reload()
    expect(page.locator(f'#history li[data-id="{mine}"]')).to_have_count(1)  # still there for its owner

    everyone = [item["id"] for item in page.request.get("/api/history?per_page=100", headers=ADMIN).json()["items"]]
    assert mine in everyone and theirs in everyone


def test_another_sites_page_cannot_post_to_the_service(page: Page, site: Site):
    """A page on http://localhost:<port> posts a form to http://127.0.0.1:<port>: another site to the browser."""
    target = site.url  # http://127.0.0.1:<port>
    evil = target.replace("127.0.0.1", "localhost") + "/elsewhere.html"
    form = (f'<form method="post" enctype="multipart/form-data" action="{target}/api/convert">'
            '<input type="file" name="image"><button>Send</button></form>')
    page.route(evil, lambda route: route.fulfill(body=form, content_type="text/html"))
    page.goto(evil)
    page.set_input_files("input[name=image]", files=[png("red.png", RED)])
    before = len(page.request.get(f"{target}/api/history?per_page=100", headers=ADMIN).json()["items"])
    with page.expect_response(f"{target}/api/convert") as answer:
        page.click("button")
    assert answer.value.status == 403
    assert answer.value.json()["error"]["code"] == "cross_site_request"
    assert len(page.request.get(f"{target}/api/history?per_page=100", headers=ADMIN).json()["items"]) == before


def test_the_page_and_results_carry_the_headers_and_inline_script_does_not_run(page: Page, caption_of):
    red = png("red.png", RED)
    answer = page.goto("/")
    headers = answer.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    result = convert(page, red, caption_of.spoken(red["buffer"]))
    for kind in ("image", "audio"):
        served = page.request.get(f"/api/results/{result}/{kind}")
        assert served.headers["cache-control"] == "private, no-store"
        assert served.headers["x-content-type-options"] == "nosniff"
    injected = page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.head.append(script);
        return window.injected ?? false;
    }""")
    assert injected is False  # the policy refuses inline script
    expect(page.locator("#result-image")).to_be_visible()  # while the page's own script and images work
