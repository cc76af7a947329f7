"""SERVER_TIMING: each answer says, phase by phase, where its time went; off by default."""

import io

from testkit.pictures import picture


def _spans(header: str) -> dict[str, float]:
    return {name: float(duration) for name, _, duration in
            (item.strip().partition(";dur=") for item in header.split(","))}


def test_with_server_timing_a_conversion_names_each_phase_and_its_milliseconds(make_app):
    client = make_app(SERVER_TIMING=True).test_client()
    answer = client.post("/api/convert", data={"image": (io.BytesIO(picture()), "photo.png")},
                         content_type="multipart/form-data")
    assert answer.status_code == 200
    spans = _spans(answer.headers["Server-Timing"])
    phases = {"identify", "check_same_site", "form", "decode", "caption", "read", "speech", "keep-image", "history",
              "json", "renew", "add_headers", "app"}
    assert phases <= set(spans) and all(ms >= 0 for ms in spans.values())
    assert spans["app"] >= sum(ms for name, ms in spans.items() if name != "app")  # the whole holds its parts
    assert set(_spans(client.get("/healthz").headers["Server-Timing"])) >= {"identify", "app"}


def test_without_it_no_answer_says_how_long_anything_took(client, convert):
    assert "Server-Timing" not in convert().headers
    assert "Server-Timing" not in client.get("/healthz").headers
