"""What a person does on the page, as steps the browser tests share."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

from flask import Flask
from playwright.sync_api import Browser, JSHandle, Page, expect

from testkit.pictures import picture

VIEWPORT = {"width": 1280, "height": 900}  # the browser's window, in CSS pixels
TIMEOUT_MS = 10_000  # for actions and expectations: room for a busy 2-core machine


@dataclass(frozen=True)
class Site:
    """A served app: its base URL and the app itself."""

    url: str
    app: Flask


def open_page(browser: Browser, site: Site) -> Iterator[Page]:
    """A fresh context (own storage) and page on ``site``; an uncaught script error fails the test."""
    context = browser.new_context(base_url=site.url, viewport=VIEWPORT, accept_downloads=True, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def png(name: str, colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> dict:
    """A picture as Playwright's ``set_input_files`` takes it."""
    return {"name": name, "mimeType": "image/png", "buffer": picture("PNG", colour, size)}


def file_transfer(page: Page, data: bytes, name: str, mime: str) -> JSHandle:
    """A DataTransfer in the page holding one file, as a drag or the clipboard carries it."""
    return page.evaluate_handle(
        """([b64, name, type]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type }));
            return transfer;
        }""",
        [base64.b64encode(data).decode(), name, mime],
    )


def drop(page: Page, data: bytes, name: str, mime: str, target: str = "#drop-zone") -> None:
    """Drop a file on ``target`` as a drag from the desktop would: dragenter, dragover, drop."""
    transfer = file_transfer(page, data, name, mime)
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(target, event, {"dataTransfer": transfer})


def paste(page: Page, data: bytes, name: str, mime: str) -> None:
    """Paste a file into the page, as Ctrl+V with a copied picture does."""
    transfer = file_transfer(page, data, name, mime)
    script = "(t) => document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: t, bubbles: true }))"
    page.evaluate(script, transfer)


def convert(page: Page, file: dict, spoken: str, **options: str) -> str:
    """Choose ``file`` with the file input, set the options (select id -> value), convert, see ``spoken``
    announced; return the result id."""
    page.set_input_files("#image-input", files=[file])
    for select, value in options.items():
        page.select_option(f"#{select}", value)
    with page.expect_response("**/api/convert") as answer:
        page.click("#convert-button")
    assert answer.value.ok, answer.value.text()
    expect(page.locator("#caption")).to_have_text(spoken)
    return answer.value.json()["id"]


def result_id(page: Page) -> str:
    """The id of the result shown, from its audio URL."""
    src = page.eval_on_selector("#player", "audio => audio.src")
    return src.rsplit("/", 2)[-2]
