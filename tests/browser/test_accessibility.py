"""Accessibility: axe-core finds nothing serious, and the page works from the keyboard alone with visible focus."""

import pytest
from playwright.sync_api import FileChooser, Page, expect

from testkit.pictures import GREEN, RED
from tests.browser.actions import convert, png

BAD = ("serious", "critical")


def axe_violations(page: Page, axe_source: str) -> list[dict]:
    """Run axe-core (every rule it runs by default) on the page; its serious and critical violations."""
    page.evaluate(axe_source)  # from the test's side: the page's policy refuses inline script (add_script_tag)
    results = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    assert results["testEngine"]["name"] == "axe-core" and results["passes"], "axe-core did not run"
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]]} for v in results["violations"] if v["impact"] in BAD]


def test_the_page_after_a_conversion_has_no_serious_violations(page: Page, axe_source, caption_of):
    page.goto("/")
    red = png("red.png", RED)
    convert(page, red, caption_of.spoken(red["buffer"]))
    page.set_input_files("#image-input", files=[png("green.png", GREEN)])  # a preview shown too
    assert axe_violations(page, axe_source) == []


def test_the_page_showing_an_error_has_no_serious_violations(page: Page, axe_source):
    page.goto("/")
    page.click("#convert-button")
    expect(page.get_by_role("alert")).to_contain_text("No picture chosen.")
    assert axe_violations(page, axe_source) == []


def test_the_page_with_no_model_ready_has_no_serious_violations(empty_page: Page, axe_source):
    empty_page.goto("/")
    expect(empty_page.get_by_role("alert")).to_contain_text("No model is ready.")
    assert axe_violations(empty_page, axe_source) == []


def test_the_admin_page_has_no_serious_violations(page: Page, axe_source):
    page.goto("/admin")
    page.fill("#admin-token", "wrong")
    page.click("text=Start training")
    expect(page.get_by_role("alert")).to_contain_text("Wrong admin token.")
    assert axe_violations(page, axe_source) == []


def focus_ring(page: Page) -> dict:
    return page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el);
        return { id: el.id || el.className || el.tagName, tag: el.tagName,
                 visible: el.matches(':focus-visible'), outline: style.outlineStyle,
                 width: parseFloat(style.outlineWidth), colour: style.outlineColor };
    }""")


def tab_to(page: Page, element_id: str, limit: int = 30) -> list[dict]:
    """Press Tab until ``element_id`` has the focus; the focus rings met on the way."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(focus_ring(page))
        if seen[-1]["id"] == element_id:
            return seen
    pytest.fail(f"#{element_id} not reached with Tab; focus went through {[s['id'] for s in seen]}")


def intercept_file_choosers(page: Page) -> None:
    """Have Chromium hand every file chooser to the test from now on.

    Playwright turns interception on asynchronously when a page gets its first chooser listener. If
    that happens in ``expect_file_chooser`` right before a key press, the key can win the race and the
    chooser never reaches the test (11 of 60 presses on a bare page). Subscribed before the page loads,
    interception is on long before any key is pressed (0 of 60)."""
    page.on("filechooser", lambda chooser: None)


def open_file_chooser_by_keyboard(page: Page) -> FileChooser:
    """Space on the focused file input opens the chooser."""
    with page.expect_file_chooser(timeout=10_000) as chooser:
        page.keyboard.press("Space")
    return chooser.value


def test_a_conversion_from_the_keyboard_alone_with_visible_focus(page: Page, caption_of):
    keys = png("keys.png", RED)
    expected = caption_of.spoken(keys["buffer"], "captioner-transformer")
    intercept_file_choosers(page)
    page.goto("/")
    expect(page.locator("#model option:checked")).to_contain_text("version")  # the models are listed
    met = tab_to(page, "image-input")
    chooser = open_file_chooser_by_keyboard(page)
    chooser.set_files([keys])
    expect(page.locator("#preview-name")).to_contain_text("keys.png")

    met += tab_to(page, "model")
    page.keyboard.press("ArrowDown")  # a closed select changes with the arrow keys
    expect(page.locator("#model")).to_have_value("captioner-transformer")
    met += tab_to(page, "format")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#format")).to_have_value("wav")
    met += tab_to(page, "autoplay")
    page.keyboard.press("Space")
    expect(page.locator("#autoplay")).to_be_checked()
    met += tab_to(page, "convert-button")
    page.keyboard.press("Enter")
    expect(page.locator("#caption")).to_have_text(expected)
    expect(page.locator("#result-meta")).to_contain_text("captioner-transformer")
    page.wait_for_function("() => document.getElementById('player').played.length > 0")  # auto-play played it

    met += tab_to(page, "player")
    met += tab_to(page, "play")  # the history entry's buttons
    met += tab_to(page, "delete danger")
    page.keyboard.press("Enter")
    guess = caption_of(keys["buffer"], "captioner-transformer")
    expect(page.locator("#history-status")).to_contain_text(f"Deleted “{guess}”")  # named by the model's words

    for ring in met:
        if ring["tag"] in ("AUDIO", "MAIN"):
            continue  # the player's own controls take the focus inside it
        assert ring["visible"] and ring["outline"] == "solid" and ring["width"] >= 2, ring
    reached = {ring["id"] for ring in met}
    assert {"image-input", "model", "lang", "engine", "format", "autoplay", "convert-button"} <= reached
