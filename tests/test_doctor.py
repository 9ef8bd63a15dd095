"""``doctor``: every check reports, failures exit non-zero with a fix, secrets stay hidden."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from autochart import cli, config, doctor, envfile

from .schedule_helpers import write_params

FAKE_TOKEN = "pk_TEST_fake_token_0000"


@pytest.fixture
def no_aws(monkeypatch, tmp_path):
    """No AWS credentials from anywhere, and never the EC2 metadata address."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


def by_name(results) -> dict:
    return {r.name: r for r in results}


def test_doctor_on_good_params_passes(tmp_path, capsys):
    params = write_params(tmp_path)
    assert cli.main(["doctor", "--params", str(params)]) == 0
    out = capsys.readouterr().out
    for name in (
        "python",
        "packages",
        "kernel",
        "notebook",
        "params",
        "credentials",
        "publish",
        "disk",
        "schedule",
        "lock",
    ):
        assert any(line.split()[1:2] == [name] for line in out.splitlines()), name
    assert out.rstrip().endswith("all checks passed")
    assert "FAIL" not in out


def test_doctor_names_bad_params_and_exits_8(tmp_path, capsys):
    params = write_params(tmp_path, schedule="0 7 * *", keep_runs=0)
    assert cli.main(["doctor", "--params", str(params)]) == 8
    out = capsys.readouterr().out
    assert "FAIL  params" in out
    assert "schedule '0 7 * *' has 4 field(s)" in out and "keep_runs must be a positive" in out
    assert f"fix: edit {params}" in out


def test_missing_token_fails_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("IEX_TOKEN", raising=False)
    checks = by_name(doctor.run_checks(write_params(tmp_path, source="iex")))
    assert checks["credentials"].status == "fail"
    assert "IEX_TOKEN" in checks["credentials"].detail
    assert ".env" in checks["credentials"].fix


def test_token_value_is_never_printed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IEX_TOKEN", FAKE_TOKEN)
    cli.main(["doctor", "--params", str(write_params(tmp_path, source="iex"))])
    captured = capsys.readouterr()
    assert "IEX_TOKEN set (value not shown)" in captured.out
    assert FAKE_TOKEN not in captured.out + captured.err


def test_unwritable_output_dir_fails(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    checks = by_name(doctor.run_checks(write_params(tmp_path, output_dir=str(blocker / "out"))))
    assert checks["disk"].status == "fail"
    assert "not writable" in checks["disk"].detail


def test_a_crashing_check_is_reported_not_raised(tmp_path):
    def check_boom(ctx):
        raise RuntimeError("boom")

    results = doctor.run_checks(write_params(tmp_path), checks=[check_boom])
    assert results[0].status == "fail" and "RuntimeError: boom" in results[0].detail
    assert doctor.failed(results)


def test_env_file_fills_only_missing_variables(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# secrets\nexport IEX_TOKEN='abc def'\nKEPT=file\n\nBAD LINE\n")
    environ = {"KEPT": "environment"}
    assert envfile.load(env_file, environ) == ["IEX_TOKEN"]
    assert environ == {"KEPT": "environment", "IEX_TOKEN": "abc def"}


# --- S3: a local S3 server (moto), fake credentials, never real AWS -----------------------------


@pytest.fixture
def s3_server(no_aws, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield url
    server.terminate()
    server.wait(timeout=10)


def s3_params(tmp_path, publish, endpoint=None):
    return config.validate({"publish": publish, "s3_endpoint_url": endpoint, "output_dir": str(tmp_path)})


def test_s3_check_is_the_runs_own_check_with_its_endpoint(s3_server, tmp_path):
    import boto3

    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket="charts")
    good = doctor.check_s3(s3_params(tmp_path, "s3://charts/dashboards", s3_server))
    assert good.status == "ok" and "the bucket answers" in good.detail
    missing = doctor.check_s3(s3_params(tmp_path, "s3://no-such-bucket/x", s3_server))
    assert missing.status == "fail" and "no-such-bucket" in missing.detail
    assert "iam-policy.json" in missing.fix


def test_doctor_uses_s3_endpoint_url(s3_server, tmp_path, capsys):
    import boto3

    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket="charts")
    params_file = write_params(tmp_path, publish="s3://charts/x", s3_endpoint_url=s3_server)
    cli.main(["doctor", "--params", str(params_file)])
    report = capsys.readouterr().out
    assert "s3://charts/x: the bucket answers" in report


def test_s3_check_without_credentials_points_to_the_instance_role(no_aws, tmp_path):
    result = doctor.check_s3(s3_params(tmp_path, "s3://charts/x"))
    assert result.status == "fail"
    assert "no AWS credentials found for user" in result.detail
    assert "instance role" in result.detail


@pytest.mark.parametrize(
    "source, variable",
    [
        ("tiingo", "TIINGO_API_KEY"),
        ("alphavantage", "ALPHAVANTAGE_API_KEY"),
        ("stooq", "STOOQ_API_KEY"),
        ("iex", "IEX_TOKEN"),
    ],
)
def test_every_keyed_source_names_its_missing_key(tmp_path, monkeypatch, capsys, source, variable):
    monkeypatch.delenv(variable, raising=False)
    params_file = write_params(tmp_path, source=source)
    assert cli.main(["doctor", "--params", str(params_file)]) == 8
    assert f"source {source} needs {variable}, which is not set" in capsys.readouterr().out
