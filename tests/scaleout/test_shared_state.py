"""The history in PostgreSQL and the result files in S3 (moto): the same behaviours as on SQLite and a local folder,
shared by two replicas, and a replica killed while it stores a result leaves nothing half-stored behind."""

from __future__ import annotations

import io
import threading
import time
import uuid
import zipfile

import pytest
import requests
from sqlalchemy import inspect, select

from app import create_app
from app.services.db import MIGRATIONS, Database, results
from testkit.gunicorn import kill, serve
from testkit.pictures import BLUE, GREEN, RED, picture
from testkit.s3_proxy import HoldingProxy
from testkit.scaleout import S3_CREDENTIALS
from testkit.service import TOKEN, settings

BUCKET = "results"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
KINDS = ("image", "audio", "caption")
HEAD = sorted(path.name.split("_")[0] for path in (MIGRATIONS / "versions").glob("*.py"))[-1]


@pytest.fixture(scope="module")
def s3_env(s3) -> dict[str, str]:
    """The standard AWS variables pointed at moto, set in this process (the in-process apps) for the module."""
    env = {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": s3.endpoint}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield env


@pytest.fixture
def shared(postgres, s3, s3_env) -> dict[str, str]:
    """DATABASE_URL and RESULTS_URL of a database and a bucket prefix of the test's own."""
    name = f"t{uuid.uuid4().hex[:12]}"
    s3.create_bucket(BUCKET)
    database = postgres.create_database(name).replace("postgresql://", "postgresql+psycopg://")
    return {"DATABASE_URL": database, "RESULTS_URL": f"s3://{BUCKET}/{name}", "prefix": name}


@pytest.fixture
def make_app(shared_store, shared, tmp_path):
    """An app in this process on the test's database and bucket prefix (its instance folder holds neither)."""

    def make(**config):
        urls = {key: shared[key] for key in ("DATABASE_URL", "RESULTS_URL")}
        return create_app(settings(shared_store, **urls, **config), instance_path=tmp_path / "instance")

    return make


def folders(s3, shared) -> set[str]:
    """The result folders in the test's bucket prefix."""
    return {key.split("/")[1] for key in s3.keys(BUCKET, shared["prefix"] + "/")}


def convert(client, colour=RED, **headers) -> str:
    answer = client.post("/api/convert", data={"image": (io.BytesIO(picture("PNG", colour)), "p.png")}, headers=headers)
    assert answer.status_code == 200, answer.json
    return answer.json["id"]


def listed(client, **headers) -> list[str]:
    return [item["id"] for item in client.get("/api/history?per_page=100", headers=headers).json["items"]]


def test_the_schema_is_migrated_on_postgresql_and_keeps_times_whole(make_app, shared):
    app = make_app()
    database = Database(shared["DATABASE_URL"])
    with database.engine.connect() as db:
        assert db.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD
        columns = {c["name"]: str(c["type"]) for c in inspect(db).get_columns("results")}
    assert {"spoken", "in_domain", "confidence", "text", "owner", "size_bytes"} <= set(columns)
    assert columns["created_at"] == "DOUBLE PRECISION"
    client = app.test_client()
    result_id = convert(client)
    with database.connect() as db:
        created_at = db.scalar(select(results.c.created_at).where(results.c.id == result_id))
    assert abs(created_at - time.time()) < 60 and created_at != round(created_at)  # kept below the second
    make_app()  # a second start finds nothing to do
    assert app.extensions["history"].get(result_id).created_at == created_at


def test_results_are_listed_newest_first_served_and_deleted_row_then_files(make_app, s3, shared):
    client = make_app().test_client()
    ids = [convert(client, colour) for colour in (RED, GREEN, BLUE)]
    assert listed(client) == ids[::-1] and folders(s3, shared) == set(ids)
    body = client.get("/api/history?per_page=2&page=2").json
    assert [item["id"] for item in body["items"]] == ids[:1] and body["total"] == 3
    files = {kind: client.get(f"/api/results/{ids[0]}/{kind}") for kind in KINDS}
    assert all(answer.status_code == 200 and answer.data for answer in files.values())
    assert files["image"].mimetype == "image/jpeg" and files["audio"].mimetype == "audio/mpeg"
    with zipfile.ZipFile(io.BytesIO(client.get(f"/api/results/{ids[0]}/zip").data)) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == {
            "image.jpg": files["image"].data, "audio.mp3": files["audio"].data, "caption.txt": files["caption"].data}

    assert client.delete(f"/api/history/{ids[0]}").status_code == 200
    assert listed(client) == ids[:0:-1] and folders(s3, shared) == set(ids[1:])
    for kind in (*KINDS, "zip"):
        assert client.get(f"/api/results/{ids[0]}/{kind}").status_code == 404


def test_retention_applies_on_postgresql_as_on_sqlite(make_app, s3, shared):
    probe = make_app().test_client()
    size = sum(len(probe.get(f"/api/results/{convert(probe)}/{kind}").data) for kind in KINDS)
    app = make_app(HISTORY_OWNER_QUOTA_BYTES=int(2.5 * size), HISTORY_MAX_AGE_DAYS=1)
    client, other = app.test_client(), app.test_client()
    theirs = convert(other)
    ids = [convert(client) for _ in range(3)]
    assert listed(client) == ids[:0:-1] and listed(other) == [theirs]  # past the quota, the owner's oldest went
    assert client.get(f"/api/results/{ids[0]}/image").status_code == 404 and ids[0] not in folders(s3, shared)

    history = app.extensions["history"]
    with history.database.connect(write=True) as db:  # as if two days old
        db.execute(results.update().where(results.c.id == theirs).values(created_at=time.time() - 2 * 86400))
    assert history.sweep() == 1
    assert listed(other) == [] and theirs not in folders(s3, shared)

    total = make_app(HISTORY_MAX_BYTES=int(2.5 * size))  # past the total, anyone's oldest go
    kept = convert(total.test_client())
    assert listed(total.test_client(), **ADMIN) == [kept, ids[2]] and folders(s3, shared) == {kept, ids[2]}


def test_the_sweep_removes_files_without_a_row_once_they_are_old(make_app, s3, shared):
    app = make_app()
    client = app.test_client()
    kept = convert(client)
    orphan = uuid.uuid4().hex  # files a crashed replica stored, without the row that would have made them a result
    s3.client().put_object(Bucket=BUCKET, Key=f"{shared['prefix']}/{orphan}/image.jpg", Body=b"half")
    history = app.extensions["history"]
    assert history.sweep() == 0 and folders(s3, shared) == {kept, orphan}  # young: maybe still being stored
    assert history.sweep(stale_s=0) == 1  # as the sweep an hour later
    assert folders(s3, shared) == {kept} and listed(client) == [kept]
    assert client.get(f"/api/results/{kept}/audio").status_code == 200


def replica_env(s3_env: dict[str, str], endpoint: str | None = None) -> dict[str, str]:
    return {**s3_env, "AWS_ENDPOINT_URL": endpoint or s3_env["AWS_ENDPOINT_URL"],
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def replica(shared_store, shared, instance, env):
    """A gunicorn server of the app (one worker) on the shared database and bucket, and on the tiny models."""
    return serve(shared_store.uri, instance, workers=1, threads=4, env=env, MODEL_POLL_SECONDS="0",
                 MODEL_NAMES='["captioner-lstm"]', TEXT_WARM_UP="false", ADMIN_TOKEN=TOKEN,
                 DATABASE_URL=shared["DATABASE_URL"], RESULTS_URL=shared["RESULTS_URL"])


def test_two_replicas_share_the_history_and_the_files(shared_store, shared, s3, s3_env, tmp_path):
    with replica(shared_store, shared, tmp_path / "a", replica_env(s3_env)) as (a, _), \
            replica(shared_store, shared, tmp_path / "b", replica_env(s3_env)) as (b, _):
        visitor = requests.Session()
        answer = visitor.post(f"{a}/api/convert", files={"image": ("p.png", picture())}, timeout=60)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        from_a = {kind: visitor.get(a + body[f"{kind}_url"], timeout=10).content for kind in (*KINDS, "zip")}

        assert [item["id"] for item in visitor.get(f"{b}/api/history", timeout=10).json()["items"]] == [body["id"]]
        assert visitor.get(f"{b}/api/history", headers=ADMIN, timeout=10).json()["total"] == 1
        for kind in (*KINDS, "zip"):
            answer = requests.get(b + body[f"{kind}_url"], timeout=10)  # a link works for anyone, on any replica
            assert answer.status_code == 200 and answer.content == from_a[kind] and answer.content, kind

        assert visitor.delete(f"{b}/api/history/{body['id']}", timeout=10).status_code == 200
        assert visitor.get(f"{a}/api/history", timeout=10).json()["items"] == []
        for kind in (*KINDS, "zip"):
            assert requests.get(a + body[f"{kind}_url"], timeout=10).status_code == 404
        assert folders(s3, shared) == set()


def test_a_replica_killed_while_storing_a_result_leaves_nothing_half_stored(shared_store, shared, s3, s3_env,
                                                                           make_app, tmp_path):
    with HoldingProxy(s3.endpoint) as proxy, \
            replica(shared_store, shared, tmp_path / "a", replica_env(s3_env, proxy.url)) as (a, log):
        proxy.hold = lambda method, path: method == "PUT" and "/audio." in path  # the image stored, then no answer
        threading.Thread(target=_post, args=(a,), daemon=True).start()
        assert proxy.held.wait(60), "the conversion never stored its audio"
        kill(log)  # SIGKILL, master and worker, while the audio is being put
        result_id = proxy.held_paths[0].split("/")[-2]
        assert folders(s3, shared) == {result_id}  # the image only
        assert s3.keys(BUCKET, f"{shared['prefix']}/{result_id}/") == [f"{shared['prefix']}/{result_id}/image.jpg"]

    app = make_app()  # another replica starting: its start's sweep keeps files that may still be being stored
    client = app.test_client()
    assert listed(client, **ADMIN) == []  # nobody's history has it
    for kind in (*KINDS, "zip"):
        assert client.get(f"/api/results/{result_id}/{kind}").status_code == 404
    assert folders(s3, shared) == {result_id}
    assert app.extensions["history"].sweep(stale_s=0) == 1  # as any replica's sweep once they are STALE_S old
    assert folders(s3, shared) == set()
    assert client.get(f"/api/results/{convert(client)}/audio").status_code == 200  # and the service goes on


def _post(url: str) -> None:
    try:
        requests.post(f"{url}/api/convert", files={"image": ("p.png", picture())}, timeout=120)
    except requests.RequestException:  # the server is killed mid-request
        pass
