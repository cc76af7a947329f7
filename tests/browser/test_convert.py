"""Converting on the page: file input, drop and paste; the caption, the audio, the history, the downloads."""

import io
import time
import zipfile

from playwright.sync_api import Page, expect

from pipeline.data.outside import outside_pictures
from pipeline.spoken import PHRASES
from testkit.pictures import BLUE, GREEN, RED, YELLOW, picture
from tests.browser.actions import convert, drop, paste, png, result_id


def test_the_file_input_previews_converts_and_plays(page: Page, caption_of):
    blue = png("blue.png", BLUE)
    expected = caption_of.spoken(blue["buffer"])
    page.goto("/")
    page.set_input_files("#image-input", files=[blue])
    expect(page.locator("#preview-image")).to_be_visible()
    page.wait_for_function("() => document.getElementById('preview-image').naturalWidth === 64")
    expect(page.locator("#preview-name")).to_contain_text("blue.png")

    held = []  # hold the upload to see the page while it converts
    page.route("**/api/convert", lambda route: held.append(route))
    page.click("#convert-button")
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(20)
    expect(page.locator("#progress")).to_be_visible()
    expect(page.locator("#convert-button")).to_be_disabled()
    expect(page.locator("#convert-form")).to_have_attribute("aria-busy", "true")
    expect(page.locator("#convert-status")).to_have_text("Converting blue.png…")
    held[0].continue_()

    caption = page.locator("#caption")
    expect(caption).to_have_text(expected)
    expect(caption).to_have_attribute("aria-live", "polite")
    expect(page.locator("#progress")).to_be_hidden()
    expect(page.locator("#convert-button")).to_be_enabled()

    src = page.eval_on_selector("#player", "audio => audio.src")
    audio = page.request.get(src)
    assert audio.ok and audio.headers["content-type"] == "audio/mpeg"
    body = audio.body()
    assert len(body) > 1000 and (body[:3] == b"ID3" or body[0] == 0xFF)
    page.wait_for_function("() => { const a = document.getElementById('player'); "
                           "return a.readyState >= 1 && a.duration > 0.3; }")  # Chromium decoded it

    entry = page.locator(f'#history li[data-id="{result_id(page)}"]')
    expect(entry.locator(".entry-caption")).to_have_text(expected)
    page.reload()  # the history is the server's, not the page's
    expect(entry.locator(".entry-caption")).to_have_text(expected)


def test_a_dropped_picture_is_converted_with_the_chosen_options(page: Page, caption_of):
    page.goto("/")
    drop(page, picture("PNG", GREEN), "green.png", "image/png")
    expect(page.locator("#preview-name")).to_contain_text("green.png")
    for select, value in {"model": "captioner-transformer", "format": "wav"}.items():
        page.select_option(f"#{select}", value)
    with page.expect_response("**/api/convert") as answer:
        page.click("#convert-button")
    body = answer.value.json()
    assert body["speech"] == {"engine": "espeak", "lang": "en", "format": "wav"}
    expect(page.locator("#caption")).to_have_text(caption_of.spoken(picture("PNG", GREEN), "captioner-transformer"))
    expect(page.locator("#guess")).to_contain_text(f"“{body['caption']}”")  # the model's own words, as its guess
    expect(page.locator("#result-meta")).to_contain_text("captioner-transformer v1 · espeak, en")
    expect(page.locator("#result-downloads")).to_contain_text("WAV audio")
    audio = page.request.get(page.eval_on_selector("#player", "audio => audio.src"))
    assert audio.headers["content-type"] == "audio/wav" and audio.body()[:4] == b"RIFF"


def test_a_pasted_picture_is_previewed_and_converted(page: Page, caption_of):
    page.goto("/")
    paste(page, picture("PNG", YELLOW), "image.png", "image/png")
    expect(page.locator("#preview-name")).to_contain_text("image.png")
    page.click("#convert-button")
    expect(page.locator("#caption")).to_have_text(caption_of.spoken(picture("PNG", YELLOW)))


def test_the_download_links_return_the_files(page: Page, caption_of):
    red = png("red.png", RED)
    page.goto("/")
    result = convert(page, red, caption_of.spoken(red["buffer"]))
    links = page.locator("#result-downloads a")
    expect(links).to_have_count(3)
    files = {}
    for index, name in enumerate(["MP3 audio", "Caption text", "All as ZIP"]):
        link = links.nth(index)
        expect(link).to_have_text(name)
        with page.expect_download() as download:
            link.click()
        files[name] = download.value.path().read_bytes()
        assert result in download.value.suggested_filename

    assert files["MP3 audio"] == page.request.get(f"/api/results/{result}/audio").body()
    spoken, caption = caption_of.spoken(red["buffer"]), caption_of(red["buffer"])
    assert files["Caption text"].decode() == f"Spoken: {spoken}\nModel's guess: {caption}\n"  # both, labelled
    with zipfile.ZipFile(io.BytesIO(files["All as ZIP"])) as archive:
        assert sorted(archive.namelist()) == ["audio.mp3", "caption.txt", "image.jpg"]
        assert archive.read("audio.mp3") == files["MP3 audio"]


def test_history_entries_play_and_delete_and_stay_deleted(page: Page, caption_of):
    red, blue = png("red.png", RED), png("blue.png", BLUE)
    page.goto("/")
    kept = convert(page, red, caption_of.spoken(red["buffer"]))
    gone = convert(page, blue, caption_of.spoken(blue["buffer"]))
    entry = page.locator(f'#history li[data-id="{gone}"]')
    expect(entry.locator(".thumb")).to_have_attribute("src", f"/api/results/{gone}/image")
    page.wait_for_function(f"() => document.querySelector('#history li[data-id=\"{gone}\"] .thumb').naturalWidth > 0")

    page.locator(f'#history li[data-id="{kept}"] .play').click()  # the older one, back in the player
    expect(page.locator("#caption")).to_have_text(caption_of.spoken(red["buffer"]))
    assert result_id(page) == kept

    entry.locator(".delete").click()
    expect(entry).to_have_count(0)
    expect(page.locator("#history-status")).to_have_text(f"Deleted “{caption_of(blue['buffer'])}”.")
    assert page.request.get(f"/api/results/{gone}/image").status == 404
    page.reload()
    expect(page.locator(f'#history li[data-id="{kept}"]')).to_have_count(1)
    expect(entry).to_have_count(0)


def test_a_real_photo_is_announced_as_not_describable_and_the_guess_is_labelled(page: Page):
    photo = io.BytesIO()
    next(p for p in outside_pictures() if p.name == "sklearn-flower").image.save(photo, "JPEG")
    page.goto("/")
    page.set_input_files("#image-input", files=[{"name": "flower.jpg", "mimeType": "image/jpeg",
                                                 "buffer": photo.getvalue()}])
    with page.expect_response("**/api/convert") as answer:
        page.click("#convert-button")
    body = answer.value.json()
    assert body["in_domain"] is False
    live = page.locator("#caption")
    expect(live).to_have_text(PHRASES["en"]["unknown"])  # the live region never reads the unreliable caption
    expect(live).not_to_contain_text(body["caption"])
    expect(page.locator("#guess")).to_contain_text(f"The model's guess: “{body['caption']}”")
    expect(page.locator("#guess")).to_contain_text("unlike the ones it learned from")


def test_the_language_choice_offers_only_the_models_languages(page: Page):
    page.goto("/")
    expect(page.locator("#model option")).to_have_count(2)  # the models are listed (and their languages known)
    offered = page.eval_on_selector_all("#lang option", "os => os.filter(o => !o.disabled).map(o => o.value)")
    assert offered == ["en"]
