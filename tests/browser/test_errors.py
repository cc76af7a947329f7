"""Errors shown plainly on the page: wrong type, too large, unreadable, nothing chosen, no model ready."""

from playwright.sync_api import Page, expect

from testkit.pictures import RED
from tests.browser.actions import png


def watch_uploads(page: Page) -> list[str]:
    """URLs of the conversions the page asks for, from now on."""
    sent: list[str] = []
    page.on("request", lambda request: "/api/convert" in request.url and sent.append(request.url))
    return sent


def test_a_file_that_is_not_a_picture_is_refused_before_sending(page: Page):
    page.goto("/")
    sent = watch_uploads(page)
    page.set_input_files("#image-input", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}])
    error = page.get_by_role("alert")
    expect(error).to_contain_text("Wrong file type.")
    expect(error).to_contain_text("notes.txt is not a picture (text/plain): choose a JPEG, PNG, WebP")
    expect(page.locator("#preview")).to_be_hidden()
    page.click("#convert-button")
    expect(error).to_contain_text("No picture chosen.")
    assert sent == []


def test_a_file_over_the_size_limit_is_refused_before_sending(page: Page, site):
    limit = site.app.config["MAX_CONTENT_LENGTH"]
    page.goto("/")
    sent = watch_uploads(page)
    page.evaluate("""(size) => {  // made in the page: sending 10 MB through Playwright takes seconds
        const input = document.getElementById("image-input");
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(size)], "huge.png", { type: "image/png" }));
        input.files = transfer.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
    }""", limit + 1)
    expect(page.get_by_role("alert")).to_contain_text("The file is too large. huge.png is 10.0 MB, more than the "
                                                      "limit of 10.0 MB: choose a smaller picture.")
    assert sent == []


def test_the_services_refusal_of_a_disguised_file_is_shown(page: Page):
    page.goto("/")
    page.set_input_files("#image-input", files=[{"name": "fake.png", "mimeType": "image/png",
                                                 "buffer": b"this is not a picture at all"}])
    expect(page.locator("#preview-name")).to_contain_text("cannot show a preview")
    with page.expect_response("**/api/convert") as answer:
        page.click("#convert-button")
    assert answer.value.status == 415
    error = page.get_by_role("alert")
    expect(error).to_contain_text("Wrong file type. the file is not an accepted image type; accepted: JPEG, PNG")
    expect(page.locator("#progress")).to_be_hidden()

    page.set_input_files("#image-input", files=[png("red.png", RED)])  # a good one clears the error
    expect(error).to_be_hidden()


def test_with_no_model_ready_the_page_says_so_and_shows_the_503(empty_page: Page):
    page = empty_page
    page.goto("/")
    error = page.get_by_role("alert")
    expect(error).to_contain_text("No model is ready. no captioning model is loaded yet")
    expect(page.locator("#model option:checked")).to_have_text("captioner-lstm (not ready)")
    expect(page.locator("#model-info")).to_contain_text("Not loaded yet: captioner-lstm@not-promoted-yet is not "
                                                        "in the model store")
    expect(page.locator("#history-status")).to_have_text("No conversions yet.")

    page.set_input_files("#image-input", files=[png("red.png", RED)])
    expect(error).to_be_hidden()
    with page.expect_response("**/api/convert") as answer:
        page.click("#convert-button")
    assert answer.value.status == 503
    expect(error).to_contain_text("No model is ready. model captioner-lstm is not loaded yet; see GET /readyz")
    expect(page.locator("#caption")).to_have_text("No picture converted yet.")
