"""Publishing to S3 over real HTTP against a local moto server, with the real notebook.

Fake AWS credentials are set for the rest of the session as soon as this module starts (and no
profile, config file or instance role is reachable), so nothing here can touch real AWS.
"""

from __future__ import annotations

import html
import json
import shutil
import socket
from pathlib import Path

import pandas as pd
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError

from autochart import config, publish, s3
from autochart.exceptions import PublishError
from autochart.paths import PROJECT_ROOT

from .conftest import only_run_dir, run_cli
from .s3_server import FAKE_KEYS, AclEnforcingServer, S3Server, fake_aws_environment

POLICY = PROJECT_ROOT / "deploy" / "s3-bucket-policy.json"
TITLE = 'Banks & <script>alert("owned")</script>'
PREFIX = "charts"
NOTEBOOK = "stock_dashboard.ipynb"
NOTEBOOK_HTML = "stock_dashboard.html"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def aws_environment(tmp_path_factory):
    with fake_aws_environment(tmp_path_factory.mktemp("aws-home")):
        yield


@pytest.fixture(scope="module")
def moto(aws_environment):
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def acl_enforcing(moto):
    server = AclEnforcingServer(moto.client()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def published(moto, tmp_path_factory):
    """One real run published to a fresh bucket that carries the example policy from deploy/."""
    bucket = moto.new_bucket()
    moto.client().put_bucket_policy(Bucket=bucket, Policy=example_policy(bucket))
    output_dir = tmp_path_factory.mktemp("published")
    code = run_cli(
        output_dir, "publish", f"s3://{bucket}/{PREFIX}/", "s3_endpoint_url", moto.url, "title", TITLE
    )
    run_dir = only_run_dir(output_dir)
    return {
        "bucket": bucket,
        "code": code,
        "run_dir": run_dir,
        "output_dir": output_dir,
        "record": json.loads((run_dir / "run.json").read_text()),
        "objects": snapshot(moto.client(), bucket),
    }


def example_policy(bucket: str) -> str:
    """deploy/s3-bucket-policy.json with this bucket's name, as a user would adapt it."""
    assert f"my-charts-bucket/{PREFIX}/latest/*" in POLICY.read_text()
    return POLICY.read_text().replace("my-charts-bucket", bucket)


def snapshot(client, bucket: str) -> dict:
    """Every object in the bucket: key -> (body, content type, cache control)."""
    found = {}
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        obj = client.get_object(Bucket=bucket, Key=item["Key"])
        found[item["Key"]] = (obj["Body"].read(), obj["ContentType"], obj.get("CacheControl"))
    return found


def params_for(bucket: str, endpoint: str, output_dir: Path, *pairs: tuple[str, str]):
    return config.load(
        None,
        [
            ("output_dir", str(output_dir)),
            ("publish", f"s3://{bucket}/{PREFIX}"),
            ("s3_endpoint_url", endpoint),
            *pairs,
        ],
    )


def copy_of_run(published, tmp_path: Path) -> tuple[Path, dict]:
    run_dir = tmp_path / published["run_dir"].name
    shutil.copytree(published["run_dir"], run_dir)
    return run_dir, dict(published["record"])


def put_previous(client, bucket: str) -> dict:
    """What an earlier good run left: a latest chart and a page."""
    client.put_object(
        Bucket=bucket,
        Key=f"{PREFIX}/latest/dashboard.png",
        Body=b"\x89PNG\r\n\x1a\n the previous run's chart",
        ContentType="image/png",
        CacheControl=s3.LATEST_CACHE,
    )
    client.put_object(
        Bucket=bucket,
        Key=f"{PREFIX}/index.html",
        Body=b"<p>previous page</p>",
        ContentType="text/html; charset=utf-8",
        CacheControl=s3.LATEST_CACHE,
    )
    return snapshot(client, bucket)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- a successful run -------------------------------------------------------------------------


@pytest.mark.notebook
def test_successful_run_publishes_exactly_these_objects(published):
    run_id = published["run_dir"].name
    assert published["code"] == 0
    assert set(published["objects"]) == {
        f"{PREFIX}/private/{run_id}/{NOTEBOOK}",
        f"{PREFIX}/private/{run_id}/{NOTEBOOK_HTML}",
        f"{PREFIX}/archive/{run_id}/dashboard.png",
        f"{PREFIX}/latest/dashboard.png",
        f"{PREFIX}/index.html",
    }


@pytest.mark.notebook
def test_each_object_has_its_body_content_type_and_cache_header(published):
    run_dir, objects = published["run_dir"], published["objects"]
    run_id = run_dir.name
    chart = (run_dir / "dashboard.png").read_bytes()
    assert chart.startswith(b"\x89PNG")
    assert objects[f"{PREFIX}/archive/{run_id}/dashboard.png"] == (
        chart,
        "image/png",
        "public, max-age=31536000, immutable",
    )
    assert objects[f"{PREFIX}/latest/dashboard.png"] == (
        chart,
        "image/png",
        "public, max-age=300, must-revalidate",
    )
    page, page_type, page_cache = objects[f"{PREFIX}/index.html"]
    assert (page_type, page_cache) == ("text/html; charset=utf-8", s3.LATEST_CACHE)
    assert page.decode().startswith("<!doctype html>")
    assert objects[f"{PREFIX}/private/{run_id}/{NOTEBOOK}"] == (
        (run_dir / NOTEBOOK).read_bytes(),
        "application/x-ipynb+json",
        "private, no-store",
    )
    assert objects[f"{PREFIX}/private/{run_id}/{NOTEBOOK_HTML}"] == (
        (run_dir / NOTEBOOK_HTML).read_bytes(),
        "text/html; charset=utf-8",
        "private, no-store",
    )


@pytest.mark.notebook
def test_run_record_says_what_was_published(published, moto):
    record, bucket = published["record"], published["bucket"]
    latest_url = f"{moto.url}/{bucket}/{PREFIX}/latest/dashboard.png"
    assert record["status"] == "success" and record["exit_code"] == 0
    assert record["published"]["url"] == latest_url
    assert record["published"]["page_url"] == f"{moto.url}/{bucket}/{PREFIX}/index.html"
    assert record["published"]["latest"] == f"s3://{bucket}/{PREFIX}/latest/dashboard.png"
    assert record["published"]["acl"] is None
    assert record["parameters"]["publish"] == f"s3://{bucket}/{PREFIX}"


@pytest.mark.notebook
def test_page_describes_the_data_and_escapes_the_title(published, moto):
    page = published["objects"][f"{PREFIX}/index.html"][0].decode()
    closes = pd.read_csv(published["run_dir"] / "closes.csv", index_col="date")
    medians = closes.median()
    first, last = closes.index.min(), closes.index.max()
    assert "<script>" not in page
    assert html.escape(TITLE) in page  # the heading and <title>, escaped
    assert f'<time datetime="{last}">{last}</time>' in page  # as of the data, not the clock
    alt = (
        f"Dashboard of daily adjusted close prices for {', '.join(closes.columns)} from "
        f"{first} to {last}: boxplot, price over time and histogram. Highest median adjusted "
        f"close: {medians.idxmax()} ({medians.max():.2f}); lowest: {medians.idxmin()} "
        f"({medians.min():.2f})."
    )
    assert f'<img src="latest/dashboard.png" alt="{html.escape(alt)}">' in page
    stable = f"{moto.url}/{published['bucket']}/{PREFIX}/latest/dashboard.png"
    snippet = f'<img src="{stable}" alt="{html.escape(alt)}" width="1200">'
    assert f"<pre><code>{html.escape(snippet)}</code></pre>" in page


@pytest.mark.notebook
def test_same_page_and_chart_in_the_local_site(published):
    site = published["output_dir"] / "site"
    s3_page = published["objects"][f"{PREFIX}/index.html"][0].decode()
    local_page = (site / "index.html").read_text()
    assert local_page == s3_page.replace('src="latest/dashboard.png"', 'src="dashboard.png"')
    assert (site / "dashboard.png").read_bytes() == (published["run_dir"] / "dashboard.png").read_bytes()


@pytest.mark.notebook
def test_no_acl_is_sent_and_the_example_policy_makes_only_the_charts_public(published, moto):
    client, bucket, run_id = moto.client(), published["bucket"], published["run_dir"].name
    for key in published["objects"]:
        grants = client.get_object_acl(Bucket=bucket, Key=key)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"], (key, grants)
    anonymous = {key: requests.get(f"{moto.url}/{bucket}/{key}", timeout=10) for key in published["objects"]}
    assert anonymous[f"{PREFIX}/latest/dashboard.png"].status_code == 200
    assert anonymous[f"{PREFIX}/latest/dashboard.png"].headers["Content-Type"] == "image/png"
    assert anonymous[f"{PREFIX}/archive/{run_id}/dashboard.png"].status_code == 200
    assert anonymous[f"{PREFIX}/index.html"].status_code == 200
    assert anonymous[f"{PREFIX}/private/{run_id}/{NOTEBOOK}"].status_code == 403
    assert anonymous[f"{PREFIX}/private/{run_id}/{NOTEBOOK_HTML}"].status_code == 403


@pytest.mark.notebook
def test_no_credential_is_written_anywhere(published):
    written = [body for body, _, _ in published["objects"].values()]
    written += [path.read_bytes() for path in published["output_dir"].rglob("*") if path.is_file()]
    assert len(written) > 10
    for value in FAKE_KEYS.values():
        assert not any(value.encode() in body for body in written), value


# --- nothing replaces a good chart ------------------------------------------------------------


@pytest.mark.notebook
def test_failed_notebook_publishes_nothing(moto, tmp_path):
    bucket = moto.new_bucket()
    before = put_previous(moto.client(), bucket)
    code = run_cli(
        tmp_path, "publish", f"s3://{bucket}/{PREFIX}", "s3_endpoint_url", moto.url, "tickers", "[ZZZZ]"
    )
    assert code == 3
    assert snapshot(moto.client(), bucket) == before
    record = json.loads((only_run_dir(tmp_path) / "run.json").read_text())
    assert record.get("published") is None and record["error"]["ename"] == "UnknownTickerError"


@pytest.mark.notebook
def test_upload_failure_after_the_archive_keeps_the_previous_latest(published, moto, tmp_path):
    bucket = moto.new_bucket()
    before = put_previous(moto.client(), bucket)
    client = moto.client(config=Config(retries={"max_attempts": 1}))

    def drop_latest(request, **_):
        if "/latest/" in request.url:
            raise ConnectionClosedError(endpoint_url=request.url)

    client.meta.events.register("before-send.s3.PutObject", drop_latest)
    run_dir, record = copy_of_run(published, tmp_path)
    params = params_for(bucket, moto.url, tmp_path)
    with pytest.raises(PublishError) as failure:
        publish.publish_s3(run_dir, params.publish, params, record, s3_client=client)
    assert failure.value.exit_code == 6
    assert "cannot reach" in str(failure.value) and "uploading" in str(failure.value)
    after = snapshot(moto.client(), bucket)
    archive = f"{PREFIX}/archive/{run_dir.name}/dashboard.png"
    assert after[archive][0] == (run_dir / "dashboard.png").read_bytes()
    assert {key: after[key] for key in before} == before  # latest chart and page untouched
    assert not (tmp_path / "site").exists()  # the local site is written only after S3 succeeded


def test_upload_is_verified_with_a_head(moto):
    bucket = moto.new_bucket()
    client = moto.client()

    def shrink(parsed, **_):
        parsed["ContentLength"] -= 1

    client.meta.events.register("after-call.s3.HeadObject", shrink)
    target = s3.Bucket(client, bucket, PREFIX)
    expected = "did not arrive intact: S3 holds 3 bytes of 'image/png', 4 bytes of 'image/png' were sent"
    with pytest.raises(PublishError, match=expected):
        s3.put(target, f"{PREFIX}/latest/dashboard.png", b"\x89PNG", s3.LATEST_CACHE)


@pytest.mark.notebook
def test_run_log_made_public_by_a_broad_policy_is_deleted_and_nothing_published(published, moto, tmp_path):
    bucket = moto.new_bucket()
    client = moto.client()
    client.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/{PREFIX}/*",
                    }
                ],
            }
        ),
    )
    before = put_previous(client, bucket)
    run_dir, record = copy_of_run(published, tmp_path)
    params = params_for(bucket, moto.url, tmp_path)
    with pytest.raises(PublishError, match="was readable by anyone") as failure:
        publish.publish_s3(run_dir, params.publish, params, record)
    assert f"{PREFIX}/latest/*, {PREFIX}/archive/* and {PREFIX}/index.html" in str(failure.value)
    assert snapshot(client, bucket) == before


# --- ACLs -------------------------------------------------------------------------------------


@pytest.mark.notebook
def test_acl_refused_by_the_bucket_explains_the_setting_and_exits_6(moto, acl_enforcing, tmp_path, capsys):
    bucket = moto.new_bucket(ObjectOwnership="BucketOwnerEnforced")
    before = put_previous(moto.client(), bucket)
    code = run_cli(
        tmp_path,
        "publish",
        f"s3://{bucket}/{PREFIX}",
        "s3_endpoint_url",
        acl_enforcing.url,
        "s3_acl",
        "public-read",
    )
    assert code == 6
    message = json.loads((only_run_dir(tmp_path) / "run.json").read_text())["error"]["message"]
    for words in (
        "refuses ACLs",
        "AccessControlListNotSupported",
        "Bucket owner enforced",
        "s3_acl is 'public-read'",
        "remove s3_acl",
        "bucket policy",
        "Object Ownership > ACLs enabled",
    ):
        assert words in message
    assert "refuses ACLs" in capsys.readouterr().err
    assert acl_enforcing.app.refused == [
        f"/{bucket}/{PREFIX}/archive/{only_run_dir(tmp_path).name}/dashboard.png"
    ]
    after = snapshot(moto.client(), bucket)
    assert {key: after[key] for key in before} == before
    assert not any("/archive/" in key for key in after)


@pytest.mark.notebook
def test_without_s3_acl_the_acl_refusing_bucket_works(published, moto, acl_enforcing, tmp_path):
    bucket = moto.new_bucket(ObjectOwnership="BucketOwnerEnforced")
    run_dir, record = copy_of_run(published, tmp_path)
    params = params_for(bucket, acl_enforcing.url, tmp_path)
    refused_before = list(acl_enforcing.app.refused)
    result = publish.publish(run_dir, params, record)
    assert result["url"] == f"{acl_enforcing.url}/{bucket}/{PREFIX}/latest/dashboard.png"
    assert len(snapshot(moto.client(), bucket)) == 5
    assert acl_enforcing.app.refused == refused_before


@pytest.mark.notebook
def test_s3_acl_is_sent_on_public_objects_only(published, moto, tmp_path):
    bucket = moto.new_bucket()
    client = moto.client()
    run_dir, record = copy_of_run(published, tmp_path)
    params = params_for(bucket, moto.url, tmp_path, ("s3_acl", "public-read"))
    result = publish.publish(run_dir, params, record)
    assert result["acl"] == "public-read"
    for key in snapshot(client, bucket):
        grantees = {g["Grantee"].get("URI") for g in client.get_object_acl(Bucket=bucket, Key=key)["Grants"]}
        assert (ALL_USERS in grantees) == ("/private/" not in key), key


# --- fail fast, before the notebook runs ------------------------------------------------------


def assert_failed_before_the_notebook(output_dir: Path, *words: str) -> str:
    run_dir = only_run_dir(output_dir)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed" and record["exit_code"] == 6
    assert record["error"]["stage"] == "preflight"
    assert not (run_dir / NOTEBOOK).exists()
    for word in words:
        assert word in record["error"]["message"]
    return record["error"]["message"]


def test_no_credentials_names_the_user_and_home(moto, tmp_path, monkeypatch, capsys):
    bucket = moto.new_bucket()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    code = run_cli(tmp_path / "out", "publish", f"s3://{bucket}/{PREFIX}", "s3_endpoint_url", moto.url)
    assert code == 6
    assert_failed_before_the_notebook(
        tmp_path / "out",
        "no AWS credentials",
        f"user {s3.effective_user()!r}",
        f"HOME={tmp_path / 'home'}",
        "instance role",
        "aws configure",
        "AWS_ACCESS_KEY_ID",
    )
    assert "no AWS credentials" in capsys.readouterr().err
    assert snapshot(moto.client(), bucket) == {}


def test_missing_profile_is_named(moto, tmp_path, monkeypatch):
    bucket = moto.new_bucket()
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    code = run_cli(tmp_path, "publish", f"s3://{bucket}/{PREFIX}", "s3_endpoint_url", moto.url)
    assert code == 6
    assert_failed_before_the_notebook(
        tmp_path, "no-such-profile", "set AWS_PROFILE to a profile", f"user {s3.effective_user()!r}"
    )


def test_missing_bucket(moto, tmp_path):
    code = run_cli(tmp_path, "publish", "s3://no-such-bucket-here/charts", "s3_endpoint_url", moto.url)
    assert code == 6
    assert_failed_before_the_notebook(
        tmp_path, "bucket 'no-such-bucket-here' does not exist", "s3://no-such-bucket-here/charts"
    )


def test_access_denied(moto, tmp_path, monkeypatch):
    bucket = moto.new_bucket()
    with moto.user_without_rights() as (key_id, secret):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        monkeypatch.delenv("AWS_SESSION_TOKEN")
        code = run_cli(tmp_path, "publish", f"s3://{bucket}/{PREFIX}", "s3_endpoint_url", moto.url)
    assert code == 6
    assert_failed_before_the_notebook(
        tmp_path, f"access denied to bucket {bucket!r}", "s3:PutObject", "s3:ListBucket"
    )


def test_unreachable_endpoint(tmp_path):
    endpoint = f"http://127.0.0.1:{free_port()}"
    code = run_cli(
        tmp_path,
        "publish",
        "s3://some-bucket/charts",
        "s3_endpoint_url",
        endpoint,
        "http_retries",
        "0",
        "http_timeout",
        "5",
    )
    assert code == 6
    assert_failed_before_the_notebook(tmp_path, f"cannot reach {endpoint}", "s3_endpoint_url")


@pytest.mark.notebook
def test_no_publish_skips_the_check_and_the_upload(moto, tmp_path):
    code = run_cli(
        tmp_path,
        "publish",
        "s3://no-such-bucket-here/charts",
        "s3_endpoint_url",
        moto.url,
        extra=["--no-publish"],
    )
    assert code == 0
    run_dir = only_run_dir(tmp_path)
    assert (run_dir / "dashboard.png").is_file()
    assert json.loads((run_dir / "run.json").read_text()).get("published") is None
    assert not (tmp_path / "site").exists()


# --- parameters and the page, without a server ------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("publish", "s3://Bad_Bucket/charts", "is not an S3 bucket name"),
        ("publish", "gs://bucket/charts", "unknown scheme 'gs'; known: file, s3"),
        ("publish", "s3://my-bucket/a/../b", "plain path segments"),
        ("s3_acl", "public-read-write", "anyone overwrite"),
        ("s3_acl", "world", "one of private, public-read"),
        ("s3_endpoint_url", "ftp://host", "must be an http(s) URL"),
        ("s3_endpoint_url", "http://key:secret@127.0.0.1:9000", "contains a user name or password"),
        ("s3_region", "EU West", "region name such as eu-west-1"),
    ],
)
def test_bad_s3_parameters_are_named(key, value, words):
    with pytest.raises(config.ParameterError) as failure:
        config.load(None, [(key, value)])
    assert failure.value.exit_code == 2
    assert len(failure.value.problems) == 1
    assert failure.value.problems[0].startswith(key) and words in failure.value.problems[0]


def test_s3_target_is_normalised():
    params = config.load(None, [("publish", "s3://my-bucket//charts/daily/")])
    assert params.publish == "s3://my-bucket/charts/daily"
    assert config.load(None, [("publish", "s3://my-bucket")]).publish == "s3://my-bucket"


@pytest.mark.parametrize(
    ("name", "endpoint", "url"),
    [
        ("my-bucket", None, "https://my-bucket.s3.eu-west-1.amazonaws.com/charts/latest/dashboard.png"),
        ("my.bucket", None, "https://s3.eu-west-1.amazonaws.com/my.bucket/charts/latest/dashboard.png"),
        (
            "my-bucket",
            "https://minio.example:9000/",
            "https://minio.example:9000/my-bucket/charts/latest/dashboard.png",
        ),
    ],
)
def test_public_url(name, endpoint, url):
    bucket = s3.Bucket(client=None, name=name, prefix="charts", endpoint_url=endpoint)
    assert s3.public_url(bucket, bucket.key("latest", "dashboard.png"), "eu-west-1") == url


def test_page_escapes_everything_from_parameters_and_data():
    data = {
        "tickers": ["AAA", "BBB"],
        "price_used": "close",
        "first_date": "2024-01-02",
        "last_date": "2024-03-08",
        "medians": {"AAA": 10.0, "BBB": 20.0},
    }
    page = publish.render_page(
        data,
        image_src="latest/dashboard.png",
        title="<script>x</script>",
        image_url='https://cdn.example/a"b.png',
    )
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "a&amp;quot;b.png" in page  # quoted in the snippet, then escaped for display
    assert "Highest median close: BBB (20.00); lowest: AAA (10.00)." in page


def test_local_target_is_checked_without_creating_anything(tmp_path):
    nested = tmp_path / "site" / "deeper"
    publish.preflight(config.load(None, [("publish", str(nested))]))
    assert not (tmp_path / "site").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(
        PublishError, match=f"cannot publish to {blocker / 'site'}: {blocker} is not a folder"
    ):
        publish.preflight(config.load(None, [("publish", str(blocker / "site"))]))


def test_s3_compatible_store_gets_no_optional_checksum_headers(moto, tmp_path):
    bucket = moto.new_bucket()
    client = s3.make_client(params_for(bucket, moto.url, tmp_path))
    sent = []
    client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: sent.append(dict(request.headers))
    )
    client.put_object(Bucket=bucket, Key="k.png", Body=b"\x89PNG")
    assert len(sent) == 1
    assert not [name for name in sent[0] if name.lower().startswith("x-amz-checksum-")]
