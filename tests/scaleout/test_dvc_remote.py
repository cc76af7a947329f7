"""Data and models through the DVC remote of .dvc/config on an S3 store: pushed after a build, pulled into
another clone, which then has nothing to rebuild."""

from __future__ import annotations

from configobj import ConfigObj

from testkit.project import ROOT, Project
from testkit.scaleout import S3_CREDENTIALS, MotoS3


def remote(project: Project) -> tuple[str, str]:
    """The default DVC remote of ``project``: its name and URL."""
    name = project.dvc("remote", "default").stdout.strip()
    return name, project.dvc("config", f"remote.{name}.url").stdout.strip()


def point_at(project: Project, name: str, s3: MotoS3) -> None:
    """Give remote ``name`` the endpoint and key pair of ``s3`` in ``.dvc/config.local`` (never committed)."""
    for option, value in (("endpointurl", s3.endpoint), ("access_key_id", S3_CREDENTIALS["AWS_ACCESS_KEY_ID"]),
                          ("secret_access_key", S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])):
        project.dvc("remote", "modify", "--local", name, option, value)


def test_the_repository_names_its_remote_and_keeps_endpoint_and_keys_out_of_git() -> None:
    config = ConfigObj(str(ROOT / ".dvc" / "config"))  # DVC's own config format
    name = config["core"]["remote"]
    assert config[f'remote "{name}"']["url"].startswith("s3://")
    assert set(config[f'remote "{name}"']) == {"url"}  # endpoint and credentials go to config.local or the env
    assert "/config.local" in (ROOT / ".dvc" / ".gitignore").read_text().split()


def test_a_pushed_build_pulled_into_another_clone_is_up_to_date(served_pipeline: Project, s3: MotoS3,
                                                                 tmp_path) -> None:
    name, url = remote(served_pipeline)
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    s3.create_bucket(bucket)
    point_at(served_pipeline, name, s3)
    served_pipeline.dvc("push")
    assert s3.keys(bucket, prefix)

    served_pipeline.run("git", "clone", "-q", str(served_pipeline.path), str(tmp_path / "clone"))
    clone = Project(tmp_path / "clone")
    clone.env = {**served_pipeline.env}
    assert not (clone.path / "models" / "lstm").exists()
    point_at(clone, name, s3)
    clone.dvc("pull")
    for output in ("data/features", "models/encoder", "models/lstm", "models/transformer"):
        assert (clone.path / output).exists(), output
    assert "Data and pipelines are up to date." in clone.dvc("status").stdout
    repro = clone.dvc("repro")
    assert "Running stage" not in repro.stdout + repro.stderr
    assert "Data and pipelines are up to date." in repro.stdout
    assert clone.dvc("status").stdout.strip() == "Data and pipelines are up to date."
