"""A local S3 for tests: moto's server over real HTTP on 127.0.0.1, and fake AWS credentials.

``fake_aws_environment`` makes sure nothing in a test session can reach real AWS: fake keys, no
profile, no config or credentials file, no instance metadata. ``S3Server`` runs
``moto.server.ThreadedMotoServer`` on a free port. moto stores a bucket's Object Ownership but does
not enforce it, so ``AclEnforcingS3`` serves the same moto backend behind a thin WSGI layer that
refuses ACLs on a ``BucketOwnerEnforced`` bucket with the error body real S3 sends.
"""

from __future__ import annotations

import logging
import threading
import uuid
from contextlib import contextmanager
from urllib.parse import parse_qs

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

# Distinctive fake values, so a test can show that none of them is ever written anywhere.
FAKE_KEYS = {
    "AWS_ACCESS_KEY_ID": "AKIAAUTOCHARTFAKEKEY",
    "AWS_SECRET_ACCESS_KEY": "autochart-fake-secret-never-written",
    "AWS_SESSION_TOKEN": "autochart-fake-session-token-never-written",
}
REGION = "us-east-1"
# Variables that could point boto3 at real credentials or a real endpoint.
AWS_VARIABLES_TO_UNSET = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)
ACL_NOT_SUPPORTED_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessControlListNotSupported</Code>'
    "<Message>The bucket does not allow ACLs</Message><RequestId>{request_id}</RequestId>"
    "<HostId>{request_id}</HostId></Error>"
)


@contextmanager
def fake_aws_environment(tmp_dir):
    """Fake keys for the whole block; the user's AWS files and any EC2 role are out of reach."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_KEYS.items():
            patch.setenv(name, value)
        for name in AWS_VARIABLES_TO_UNSET:
            patch.delenv(name, raising=False)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_CONFIG_FILE", str(tmp_dir / "no-such-aws-config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_dir / "no-such-aws-credentials"))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


class S3Server:
    """moto's ThreadedMotoServer on 127.0.0.1 and a free port."""

    def __init__(self):
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def start(self) -> S3Server:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self.server.stop()

    def client(self, **credentials):
        return boto3.client("s3", endpoint_url=self.url, region_name=REGION, **credentials)

    def new_bucket(self, **options) -> str:
        name = f"charts-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name, **options)
        return name

    @contextmanager
    def user_without_rights(self):
        """Real-looking keys of an IAM user with no policy, with moto's authorization on."""
        iam = boto3.client("iam", endpoint_url=self.url, region_name=REGION)
        user = f"nobody-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        self._set_auth("0")
        try:
            yield key["AccessKeyId"], key["SecretAccessKey"]
        finally:
            self._set_auth("inf")

    def _set_auth(self, initial_no_auth_action_count: str) -> None:
        answer = requests.post(
            f"{self.url}/moto-api/reset-auth", data=initial_no_auth_action_count.encode(), timeout=10
        )
        answer.raise_for_status()


class AclEnforcingS3:
    """moto's S3 behind a WSGI layer that enforces Object Ownership ``BucketOwnerEnforced``.

    A PUT that carries an ACL (other than bucket-owner-full-control, which S3 still accepts) on
    such a bucket gets 400 AccessControlListNotSupported, as from S3 since April 2023. The
    ownership setting is read from moto over its own HTTP API (``admin``).
    """

    def __init__(self, admin_client):
        self.admin = admin_client
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.refused = []

    def __call__(self, environ, start_response):
        bucket = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)[0]
        if environ["REQUEST_METHOD"] == "PUT" and _sets_acl(environ) and self._enforced(bucket):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            environ["wsgi.input"].read(length)
            request_id = uuid.uuid4().hex.upper()[:16]
            self.refused.append(environ.get("PATH_INFO"))
            body = ACL_NOT_SUPPORTED_XML.format(request_id=request_id).encode()
            start_response(
                "400 Bad Request",
                [
                    ("Content-Type", "application/xml"),
                    ("Content-Length", str(len(body))),
                    ("x-amz-request-id", request_id),
                ],
            )
            return [body]
        return self.moto(environ, start_response)

    def _enforced(self, bucket: str) -> bool:
        try:
            rules = self.admin.get_bucket_ownership_controls(Bucket=bucket)
        except ClientError:
            return False
        return any(
            rule.get("ObjectOwnership") == "BucketOwnerEnforced"
            for rule in rules["OwnershipControls"]["Rules"]
        )


def _sets_acl(environ) -> bool:
    acl = environ.get("HTTP_X_AMZ_ACL")
    grants = any(name.startswith("HTTP_X_AMZ_GRANT_") for name in environ)
    acl_call = "acl" in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    return bool((acl and acl != "bucket-owner-full-control") or grants or acl_call)


class AclEnforcingServer:
    """``AclEnforcingS3`` served over HTTP on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, admin_client):
        self.app = AclEnforcingS3(admin_client)

    def start(self) -> AclEnforcingServer:
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=MotoRequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()
