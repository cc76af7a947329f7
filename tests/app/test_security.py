"""Headers on every answer, changes only from the service's own pages, trusted hosts, errors that keep secrets."""

import sys

import pytest

from app import create_app
from testkit.service import TOKEN, wait_for

CSP = ("default-src 'self'", "script-src 'self'", "img-src 'self' blob: data:", "media-src 'self' blob:",
       "frame-ancestors 'none'")


def assert_security_headers(answer) -> None:
    policy = answer.headers["Content-Security-Policy"]
    assert all(part in policy.split("; ") for part in CSP), policy
    assert "unsafe-inline" not in policy
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_the_page_the_api_and_errors_carry_the_security_headers(client):
    for path in ("/", "/admin", "/api/models", "/api/history", "/api/nothing-here", "/static/js/main.js"):
        assert_security_headers(client.get(path))


def test_results_are_private_and_never_stored_by_caches(client, convert):
    body = convert().json
    for url in (body["image_url"], body["audio_url"], body["caption_url"], body["zip_url"]):
        answer = client.get(url)
        assert answer.status_code == 200
        assert_security_headers(answer)
        assert answer.headers["Cache-Control"] == "private, no-store", url
    assert client.get("/api/history").headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "http://localhost.evil.example"},
    {"Origin": "null"},  # a sandboxed frame or a file:// page
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost"},  # another subdomain's page
])
def test_changes_from_another_sites_page_get_403(client, convert, headers):
    kept = convert().json["id"]
    for answer in (convert(headers=headers), client.delete(f"/api/history/{kept}", headers=headers),
                   client.post("/api/train", json={}, headers={**headers, "Authorization": f"Bearer {TOKEN}"})):
        assert answer.status_code == 403 and answer.json["error"]["code"] == "cross_site_request"
    assert client.get(f"/api/results/{kept}/caption").status_code == 200  # not deleted


def test_changes_from_the_own_page_and_from_clients_without_an_origin_pass(client, convert):
    for headers in ({}, {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}):
        answer = convert(headers=headers)
        assert answer.status_code == 200, answer.json
        assert client.delete(f"/api/history/{answer.json['id']}", headers=headers).status_code == 200


def test_other_host_headers_are_refused_without_repeating_them(make_app):
    client = make_app(TRUSTED_HOSTS=["images.example.org"]).test_client()
    assert client.get("/healthz", headers={"Host": "images.example.org:8443"}).status_code == 200
    answer = client.get("/healthz", headers={"Host": "evil.example"})
    assert answer.status_code == 400 and answer.json["error"]["code"] == "untrusted_host"
    assert "evil" not in answer.json["error"]["message"]
    assert make_app().config["TRUSTED_HOSTS"] == ["127.0.0.1", "localhost"]  # the default: where it listens


def test_a_short_admin_token_refuses_to_start(tmp_path):
    with pytest.raises(ValueError, match="ADMIN_TOKEN must be at least 32 characters long"):
        create_app({"ADMIN_TOKEN": "x" * 31, "MODEL_POLL_SECONDS": 0}, instance_path=tmp_path, start_models=False)


def test_the_admin_token_never_reaches_a_training_job(make_app, admin_headers, monkeypatch):
    monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("IMAGE_TO_AUDIO_ADMIN_TOKEN", TOKEN)
    show = ("import os; print('token' if any(os.environ.get(k) for k in ('ADMIN_TOKEN', 'IMAGE_TO_AUDIO_ADMIN_TOKEN'))"
            " else 'clean', os.environ.get('MLFLOW_TRACKING_URI') is not None)")
    client = make_app(TRAIN_COMMAND=[sys.executable, "-c", show]).test_client()
    job = client.post("/api/train", json={}, headers=admin_headers).json["job_id"]
    status = wait_for(client, job, admin_headers)
    assert status["status"] == "succeeded" and status["log_tail"] == ["clean True"]


def test_not_ready_models_are_explained_without_the_store_address(make_app, tmp_path):
    uri = f"sqlite:///{tmp_path}/empty-store.db"
    client = make_app(uri).test_client()
    for text in (client.get("/readyz").get_data(as_text=True), client.get("/api/models").get_data(as_text=True)):
        assert "captioner-lstm@production is not in the model store" in text
        assert str(tmp_path) not in text and "sqlite" not in text
