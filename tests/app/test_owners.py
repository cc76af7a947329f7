"""Ownership: each visitor (cookie jar) sees and deletes only their own results; the admin sees and deletes all;
result files stay reachable by their links; results kept before owners are the admin's to claim or clear."""

import io
import re
import sqlite3

from app.owners import COOKIE, LIFETIME_S
from testkit.pictures import BLUE, RED, picture


def convert(client, colour=RED) -> str:
    answer = client.post("/api/convert", data={"image": (io.BytesIO(picture("PNG", colour)), "p.png")},
                         content_type="multipart/form-data")
    assert answer.status_code == 200, answer.json
    return answer.json["id"]


def listed(client, **headers) -> list[str]:
    return [item["id"] for item in client.get("/api/history?per_page=100", headers=headers).json["items"]]


def test_the_first_answer_sets_an_opaque_owner_cookie_renewed_on_use(make_app):
    client = make_app().test_client()
    first = client.get("/")
    cookie = first.headers["Set-Cookie"]
    value = re.match(rf"{COOKIE}=([A-Za-z0-9_-]{{43}});", cookie).group(1)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie and "Path=/" in cookie
    assert f"Max-Age={LIFETIME_S}" in cookie
    again = client.get("/api/history")
    assert f"{COOKIE}={value};" in again.headers["Set-Cookie"]  # the same owner, a year from now
    https = client.get("/", base_url="https://localhost")
    assert "Secure" in https.headers["Set-Cookie"]
    assert "Set-Cookie" not in client.get("/static/js/main.js").headers  # caches may share static files


def test_a_forged_or_malformed_cookie_gets_a_fresh_owner(make_app):
    client = make_app().test_client()
    convert(client)
    stranger = make_app().test_client()
    for value in ("", "admin", "x" * 43 + "'", "../" * 15):
        stranger.set_cookie(COOKIE, value)
        assert listed(stranger) == []


def test_two_visitors_see_only_their_own_history_and_the_admin_sees_both(make_app, admin_headers):
    app = make_app()
    alice, bob = app.test_client(), app.test_client()
    mine, theirs = convert(alice, RED), convert(bob, BLUE)
    assert listed(alice) == [mine] and listed(bob) == [theirs]
    assert alice.get("/api/history").json["total"] == 1
    assert set(listed(app.test_client(), **admin_headers)) == {mine, theirs}

    refused = bob.delete(f"/api/history/{mine}")  # another's result is "not found", as one that never existed
    assert refused.status_code == 404 and refused.json["error"]["code"] == "result_not_found"
    assert listed(alice) == [mine]
    assert bob.get(f"/api/results/{mine}/image").status_code == 200  # the link is a capability: it still works

    assert alice.delete(f"/api/history/{mine}").status_code == 200
    assert app.test_client().delete(f"/api/history/{theirs}", headers=admin_headers).status_code == 200
    assert listed(alice) == [] and listed(bob) == [] and listed(app.test_client(), **admin_headers) == []


def test_a_wrong_admin_token_on_the_history_is_refused(make_app):
    client = make_app().test_client()
    answer = client.get("/api/history", headers={"Authorization": "Bearer " + "y" * 40})
    assert answer.status_code == 403 and answer.json["error"]["code"] == "forbidden"
    assert client.get("/api/history", headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 200


def test_results_kept_before_owners_are_the_admins_to_claim_or_clear(make_app, admin_headers):
    app = make_app()
    client = app.test_client()
    old = [convert(client) for _ in range(3)]
    history_db = app.extensions["history"].database.url.database  # the SQLite file
    with sqlite3.connect(history_db) as db:  # as a database from before owners has them
        db.execute("UPDATE results SET owner = NULL")
    assert listed(client) == [] and set(listed(client, **admin_headers)) == set(old)

    runner = app.test_cli_runner()
    value = client.get_cookie(COOKIE).value
    assert "not an owner cookie" in runner.invoke(args=["results", "claim", "--cookie", "nonsense"]).output
    assert runner.invoke(args=["results", "claim", "--cookie", value]).output == "3 results claimed\n"
    assert set(listed(client)) == set(old)

    with sqlite3.connect(history_db) as db:
        db.execute("UPDATE results SET owner = NULL WHERE id = ?", (old[0],))
    assert runner.invoke(args=["results", "clear-unowned"]).output == "1 results deleted\n"
    assert set(listed(client, **admin_headers)) == set(old[1:])
    assert client.get(f"/api/results/{old[0]}/image").status_code == 404
