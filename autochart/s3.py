"""S3 (or an S3-compatible store) as a publish target: check first, upload in a safe order, verify.

Credentials come only from boto3's standard chain (environment, profile, EC2 instance role). Every
object is written with its ``Content-Type`` and a deliberate ``Cache-Control`` and read back with a
HEAD (size and type). No ACL is sent unless ``s3_acl`` asks for one: public reads should come from a
bucket policy on the chart keys only (``deploy/s3-bucket-policy.json``). Any boto3/botocore error
becomes a ``PublishError`` (exit code 6) that says what to change.
"""

from __future__ import annotations

import getpass
import logging
import os
import pwd
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from botocore.exceptions import BotoCoreError, ClientError

from .config import split_s3_url
from .exceptions import PublishError

log = logging.getLogger(__name__)

ARCHIVE_CACHE = "public, max-age=31536000, immutable"  # a run's copy never changes
LATEST_CACHE = "public, max-age=300, must-revalidate"  # the stable key: stale for 5 minutes at most
PRIVATE_CACHE = "private, no-store"
CONTENT_TYPES = {
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
    ".ipynb": "application/x-ipynb+json",
}
ANONYMOUS_CHECK_TIMEOUT = 10
S3_ERRORS = (BotoCoreError, ClientError)


@dataclass(frozen=True)
class Bucket:
    """A client bound to ``s3://name/prefix``; ``key()`` joins parts under the prefix."""

    client: Any
    name: str
    prefix: str
    endpoint_url: str | None = None

    def key(self, *parts: str) -> str:
        return "/".join(part for part in (self.prefix, *parts) if part)

    def s3_url(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    def region(self) -> str:
        """The bucket's own region, as S3 reports it (the client's region if it does not say)."""
        head = self.client.head_bucket(Bucket=self.name)
        headers = head.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return headers.get("x-amz-bucket-region") or self.client.meta.region_name or "us-east-1"


def open_bucket(params, s3_client=None) -> Bucket:
    """The publish bucket of ``params``; ``s3_client`` (for tests) replaces the default client."""
    name, prefix = split_s3_url(params.publish)
    try:
        client = s3_client or make_client(params)
    except S3_ERRORS as exc:  # ProfileNotFound and friends surface here
        raise explain(exc, name, "creating the S3 client", params) from None
    return Bucket(client, name, prefix, params.s3_endpoint_url)


def make_client(params):
    """A boto3 S3 client from the standard credential chain, bounded timeouts and retries.

    For S3-compatible stores, checksums are sent only where the API requires them: boto3 1.36
    started adding CRC32 checksum headers to every upload, which several such stores refuse.
    """
    import boto3
    from botocore.config import Config

    checksums = (
        {"request_checksum_calculation": "when_required", "response_checksum_validation": "when_required"}
        if params.s3_endpoint_url
        else {}
    )
    config = Config(
        connect_timeout=params.http_timeout,
        read_timeout=params.http_timeout,
        retries={"mode": "standard", "max_attempts": params.http_retries + 1},
        **checksums,
    )
    return boto3.session.Session().client(
        "s3", region_name=params.s3_region, endpoint_url=params.s3_endpoint_url, config=config
    )


def preflight(params, s3_client=None) -> None:
    """Fail fast, before the notebook runs: credentials found, bucket there and reachable."""
    bucket = open_bucket(params, s3_client)
    try:
        bucket.client.head_bucket(Bucket=bucket.name)
    except S3_ERRORS as exc:
        raise explain(exc, bucket.name, "checking the bucket", params) from None
    log.info("publish target s3://%s/%s is reachable", bucket.name, bucket.prefix)


def public_url(bucket: Bucket, key: str, region: str) -> str:
    """The plain (unsigned, never expiring) HTTP address of ``key``."""
    path = quote(key)
    if bucket.endpoint_url:
        return f"{bucket.endpoint_url.rstrip('/')}/{bucket.name}/{path}"
    if "." in bucket.name:  # dots break the TLS wildcard of virtual-hosted names
        return f"https://s3.{region}.amazonaws.com/{bucket.name}/{path}"
    return f"https://{bucket.name}.s3.{region}.amazonaws.com/{path}"


# --- uploads ----------------------------------------------------------------------------------


def put(bucket: Bucket, key: str, body: bytes, cache_control: str, acl: str | None = None) -> str:
    """Upload one object with its content type and cache header, then verify it with a HEAD."""
    content_type = content_type_of(key)
    extra = {"ACL": acl} if acl else {}
    bucket.client.put_object(
        Bucket=bucket.name, Key=key, Body=body, ContentType=content_type, CacheControl=cache_control, **extra
    )
    head = bucket.client.head_object(Bucket=bucket.name, Key=key)
    if head["ContentLength"] != len(body) or head["ContentType"] != content_type:
        raise PublishError(
            f"{bucket.s3_url(key)} did not arrive intact: S3 holds {head['ContentLength']} bytes "
            f"of {head['ContentType']!r}, {len(body)} bytes of {content_type!r} were sent"
        )
    log.info("uploaded %s (%d bytes, %s, %s)", bucket.s3_url(key), len(body), content_type, cache_control)
    return bucket.s3_url(key)


def content_type_of(key: str) -> str:
    suffix = key[key.rfind(".") :].lower()
    try:
        return CONTENT_TYPES[suffix]
    except KeyError:
        raise PublishError(f"no content type known for {key}; known: {', '.join(CONTENT_TYPES)}") from None


def ensure_private(bucket: Bucket, keys: list[str], region: str) -> None:
    """An anonymous reader must not get the run log; if one does, delete it and say why."""
    public = [key for key in keys if _anonymous_can_read(public_url(bucket, key, region))]
    if not public:
        return
    bucket.client.delete_objects(Bucket=bucket.name, Delete={"Objects": [{"Key": key} for key in keys]})
    raise PublishError(
        f"{bucket.s3_url(public[0])} was readable by anyone, so the run log was deleted again and "
        f"nothing was published. The bucket policy (or a default ACL) makes "
        f"s3://{bucket.name}/{bucket.key('private')}/ public: grant public reads only on "
        f"{bucket.key('latest')}/*, {bucket.key('archive')}/* and {bucket.key('index.html')} "
        f"(see deploy/s3-bucket-policy.json)"
    )


def _anonymous_can_read(url: str) -> bool:
    """Ask for the first byte without credentials, as a browser would (a GET: some S3-compatible
    servers answer a HEAD without evaluating the bucket policy)."""
    try:
        with requests.get(
            url,
            headers={"Range": "bytes=0-0"},
            timeout=ANONYMOUS_CHECK_TIMEOUT,
            allow_redirects=False,
            stream=True,
        ) as answer:
            return answer.ok
    except requests.RequestException as exc:
        log.warning("could not check anonymous access to %s: %s", url, exc)
        return False


# --- errors, explained ------------------------------------------------------------------------


def explain(exc: Exception, bucket: str, doing: str, params) -> PublishError:
    """A ``PublishError`` that names the cause and the fix for a boto3/botocore error."""
    code = _error_code(exc)
    describe = CLIENT_ERRORS.get(code) or BOTOCORE_ERRORS.get(type(exc).__name__)
    where = params.s3_endpoint_url or "AWS S3"
    if describe is None:
        return PublishError(f"S3 error while {doing} (bucket {bucket} at {where}): {exc}")
    return PublishError(f"S3: {describe(bucket, params, exc)} [while {doing} at {where}]")


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def effective_user() -> str:
    """The user this process runs as (what cron and systemd use), not the login name."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return getpass.getuser()


def _no_credentials(bucket, params, exc) -> str:
    user = effective_user()
    home = os.environ.get("HOME", "(HOME is not set)")
    return (
        f"no AWS credentials found for user {user!r} (HOME={home}). boto3 looks in the "
        f"environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then the profile "
        f"AWS_PROFILE or 'default' in {home}/.aws/credentials and {home}/.aws/config, then "
        f"the EC2 instance role. On EC2 attach an instance role that may write to {bucket}; "
        f"elsewhere run 'aws configure' as this user, or export the variables. Under cron the "
        f"environment and HOME are not your shell's"
    )


def _profile_not_found(bucket, params, exc) -> str:
    return (
        f"{exc}: set AWS_PROFILE to a profile in ~/.aws/config of user "
        f"{effective_user()!r}, or unset it to use the default chain"
    )


def _no_bucket(bucket, params, exc) -> str:
    return (
        f"bucket {bucket!r} does not exist (check the name in publish: {params.publish}"
        f"{', and s3_endpoint_url' if params.s3_endpoint_url else ''}), or create it first"
    )


def _denied(bucket, params, exc) -> str:
    acl = " and s3:PutObjectAcl (s3_acl is set)" if params.s3_acl else ""
    objects = f"arn:aws:s3:::{params.publish.removeprefix('s3://')}/*"
    return (
        f"access denied to bucket {bucket!r} ({_error_code(exc)}): the credentials in use "
        f"(user {effective_user()!r}) need s3:ListBucket on arn:aws:s3:::{bucket}, and "
        f"s3:PutObject, s3:GetObject and s3:DeleteObject on {objects}{acl}; also check that "
        f"the keys are current"
    )


def _acl_refused(bucket, params, exc) -> str:
    return (
        f"bucket {bucket!r} refuses ACLs (AccessControlListNotSupported: its Object Ownership "
        f"is 'Bucket owner enforced', the default for buckets created since April 2023), and "
        f"s3_acl is {params.s3_acl!r}. Either remove s3_acl from params.yaml (recommended; "
        f"grant public reads with a bucket policy, see deploy/s3-bucket-policy.json), or "
        f"enable ACLs on the bucket (console: Permissions > Object Ownership > ACLs enabled)"
    )


def _wrong_region(bucket, params, exc) -> str:
    headers = (getattr(exc, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPHeaders", {})
    region = headers.get("x-amz-bucket-region", "another region")
    asked = params.s3_region or "the default region"
    return f"bucket {bucket!r} is in {region}, not {asked}: set s3_region: {region}"


def _unreachable(bucket, params, exc) -> str:
    return (
        f"cannot reach {params.s3_endpoint_url or 'the AWS S3 endpoint'} ({exc}); check the "
        f"network, s3_endpoint_url and s3_region"
    )


CLIENT_ERRORS = {
    "NoSuchBucket": _no_bucket,
    "404": _no_bucket,
    "AccessDenied": _denied,
    "403": _denied,
    "InvalidAccessKeyId": _denied,
    "SignatureDoesNotMatch": _denied,
    "ExpiredToken": _denied,
    "InvalidToken": _denied,
    "AccessControlListNotSupported": _acl_refused,
    "PermanentRedirect": _wrong_region,
    "301": _wrong_region,
    "AuthorizationHeaderMalformed": _wrong_region,
}
BOTOCORE_ERRORS = {
    "NoCredentialsError": _no_credentials,
    "PartialCredentialsError": _no_credentials,
    "ProfileNotFound": _profile_not_found,
    "EndpointConnectionError": _unreachable,
    "ConnectTimeoutError": _unreachable,
    "ReadTimeoutError": _unreachable,
    "ConnectionClosedError": _unreachable,
}
