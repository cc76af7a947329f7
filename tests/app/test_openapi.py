"""The OpenAPI document describes every route the app serves, and only those."""

import re

from app.api.convert import FIELDS


def test_every_route_is_documented(app, client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.1") and spec["info"]["title"] == "image-to-audio"
    served = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("web."):  # pages, not API
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        served.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    documented = {path: set(item) for path, item in spec["paths"].items()}
    assert documented == served


def test_the_document_follows_the_settings(make_app):
    spec = make_app(MAX_CONTENT_LENGTH=1234).test_client().get("/api/openapi.json").json
    form = spec["paths"]["/api/convert"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["model"]["enum"] == ["captioner-lstm", "captioner-transformer"]
    assert "1234 bytes" in form["properties"]["image"]["description"]
    assert set(form["properties"]) == set(FIELDS) and form["additionalProperties"] is False  # others get a 400
    train = spec["paths"]["/api/train"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert train["properties"]["decoder"]["enum"] == ["lstm", "transformer"]
    assert train["properties"]["epochs"] == {
        "type": "integer", "minimum": 1, "maximum": 500,
        "description": "params.yaml: train.fit.epochs and train.{decoder}.fit.epochs for each decoder, "
                       "or only the latter with decoder"}
    assert train["properties"]["dataset_size"]["description"] == "params.yaml: download.synthetic.num_images"
    assert spec["paths"]["/api/train"]["post"]["security"] == [{"bearer": []}]
