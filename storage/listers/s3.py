"""S3 and S3-compatible stores through boto3's paginator.

botocore's "standard" retry mode already backs off on SlowDown/503 and 5xx; on top of that a page that
still fails with a throttling or server error is retried here with exponential backoff, resuming with
StartAfter = the last key handed out, so nothing is listed twice.
"""

import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import lru_cache
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from storage.credentials import CredentialsError, s3_credentials
from storage.listers.base import (
    ListedObject,
    ListingError,
    ObjectBatch,
    RetryHook,
    RetryNotice,
    ShardSpec,
    batched,
)
from storage.models import StorageConnection
from storage.validation import validate_endpoint_url

PAGE_SIZE = 1000
RETRYABLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
                   "TooManyRequestsException", "InternalError", "ServiceUnavailable", "RequestTimeout"}
DENIED_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "ExpiredToken",
                "InvalidToken", "AccountProblem"}
# Wrong for every request, not for one object: no read of the store can succeed with them.
CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}
DEFAULT_CHAIN_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^\]\)\"']+)")
_Page = TypeVar("_Page")


def split_root(root: str) -> tuple[str, str]:
    """'bucket/some/prefix' → ('bucket', 'some/prefix/'); a bare bucket has the prefix ''."""
    bucket, _, prefix = root.strip("/").partition("/")
    return bucket, (prefix.strip("/") + "/") if prefix.strip("/") else ""


def make_client(connection: StorageConnection) -> Any:
    try:
        endpoint = validate_endpoint_url(connection.endpoint_url) or None
    except ValidationError as error:
        raise ListingError(error.messages[0], code="endpoint_not_allowed", permanent=True) from error
    try:
        credentials = s3_credentials(connection)
    except CredentialsError as error:
        raise ListingError(str(error), code="credentials_unavailable", permanent=True) from error
    return _client(endpoint, connection.region or "us-east-1", connection.addressing_style,
                   settings.KURA_S3_MAX_ATTEMPTS, credentials.access_key_id, credentials.secret_access_key,
                   credentials.session_token)


@lru_cache(maxsize=32)
def _client(endpoint: str | None, region: str, addressing_style: str, max_attempts: int, access_key_id: str | None,
            secret_access_key: str | None, session_token: str | None) -> Any:
    """One client per endpoint and credentials, reused by every shard a worker lists (clients are thread-safe,
    and building one costs more than listing a small shard). Rotated credentials make a new key."""
    config = Config(
        region_name=region,
        s3={"addressing_style": addressing_style},
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="kura-scanner",
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
        aws_session_token=session_token, config=config,
    )


def credentials_missing(connection: StorageConnection, error: NoCredentialsError | PartialCredentialsError,
                        ) -> ListingError:
    """boto3's default chain found no credentials (or half of them): waiting will not bring them, so it is final."""
    if isinstance(error, PartialCredentialsError):
        problem = f"the workers' credentials are incomplete ({error})"
    else:
        unset = [name for name in DEFAULT_CHAIN_VARIABLES if not os.environ.get(name)]
        problem = (f"{' and '.join(unset) or 'the AWS variables'} {'is' if len(unset) == 1 else 'are'} not set on the "
                   "workers, and they have no AWS profile or instance role either")
    return ListingError(f"No credentials for connection '{connection.name}': it names no environment variables or "
                        f"secrets file, and {problem}.", code="credentials_unavailable", permanent=True)


def unreachable(connection: StorageConnection, error: EndpointConnectionError, where: str) -> ListingError:
    """'Could not reach <endpoint> (listing <where>): connection refused' rather than boto's request URL."""
    cause = str(error.kwargs.get("error") or error)
    found = _ERRNO.search(cause)
    reason = found.group(1).strip() if found else cause.split(": ", 1)[0]
    endpoint = connection.endpoint_url or "AWS S3"
    return ListingError(f"Could not reach {endpoint} (listing {where}): {reason[:1].lower()}{reason[1:]}",
                        code="unreachable", permanent=False)


def _is_retryable(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in RETRYABLE_CODES or status == 429 or status >= 500


def describe_client_error(error: ClientError, where: str) -> ListingError:
    code = error.response.get("Error", {}).get("Code", "") or "Unknown"
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in DENIED_CODES or status == 403:
        return ListingError(f"Access denied listing {where} ({code}): check the connection's credentials and the "
                            "bucket policy; Kura needs s3:ListBucket.", code="access_denied", permanent=True)
    if code == "NoSuchBucket" or status == 404:
        return ListingError(f"{where} does not exist ({code}).", code="not_found", permanent=True)
    return ListingError(f"Listing {where} failed: {code} (HTTP {status}).", code="listing_failed",
                        permanent=not _is_retryable(error))


_END = object()


def read_ahead(pages: Iterator[_Page]) -> Iterator[_Page]:
    """The pages of a listing, the next one requested (in a thread) while the caller counts the current one.

    A listing alternates between the store preparing a page and Kura counting it; overlapping the two takes
    Kura's share off the wall time. One page waits at most, so memory stays bounded; an error is raised here, in
    the caller's thread; a caller that stops early leaves the thread to end after its request in flight.
    """
    ready: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=1)
    stopped = threading.Event()

    def hand_over(entry: tuple[Any, BaseException | None]) -> bool:
        while not stopped.is_set():
            try:
                ready.put(entry, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def fetch() -> None:
        try:
            for page in pages:
                if not hand_over((page, None)):
                    return
        except BaseException as error:  # whatever it is, raised again in the caller's thread
            hand_over((_END, error))
            return
        hand_over((_END, None))

    threading.Thread(target=fetch, name="kura-s3-read-ahead", daemon=True).start()
    try:
        while True:
            page, error = ready.get()
            if error is not None:
                raise error
            if page is _END:
                return
            yield page
    finally:
        stopped.set()


def _wait(seconds: float) -> None:
    """The wait before a retry (tests look at the scan during it)."""
    time.sleep(seconds)


class S3Lister:
    def __init__(self, connection: StorageConnection, *, sleep: Callable[[float], None] | None = None,
                 on_retry: RetryHook | None = None) -> None:
        self.connection = connection
        self._client: Any = None
        self._sleep = sleep
        self.on_retry = on_retry

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.connection)
        return self._client

    def root_uri(self, root: str) -> str:
        bucket, prefix = split_root(root)
        return f"s3://{bucket}/{prefix}"

    def _pages(self, where: str, start_after: str, **params: Any) -> Iterator[dict[str, Any] | RetryNotice]:
        """Pages of list_objects_v2, retried with backoff; ``start_after`` moves on as the caller consumes.

        Before each wait a RetryNotice comes instead of a page: this may run in read_ahead's thread, and only the
        caller's thread may write it to the database (see _told)."""
        attempt, attempts = 0, settings.KURA_S3_MAX_ATTEMPTS
        while True:
            paginator = self.client.get_paginator("list_objects_v2")
            extra = {"StartAfter": start_after} if start_after else {}
            try:
                for page in paginator.paginate(**params, **extra, PaginationConfig={"PageSize": PAGE_SIZE}):
                    attempt = 0
                    contents = page.get("Contents", [])
                    yield page
                    if contents:
                        start_after = contents[-1]["Key"]
                return
            except (NoCredentialsError, PartialCredentialsError) as error:
                raise credentials_missing(self.connection, error) from error
            except ClientError as error:
                failure = describe_client_error(error, where)
                if failure.permanent or attempt >= attempts:
                    raise failure from error
            except EndpointConnectionError as error:
                failure = unreachable(self.connection, error, where)
                if attempt >= attempts:
                    raise failure from error
            except BotoCoreError as error:
                failure = ListingError(f"Listing {where} failed: {error}.", code="listing_failed", permanent=False)
                if attempt >= attempts:
                    raise failure from error
            attempt += 1
            delay = min(30.0, 0.2 * 2**attempt)
            yield RetryNotice(failure.message, attempt, attempts, timezone.now() + timedelta(seconds=delay))
            (self._sleep or _wait)(delay)

    def _told(self, items: Iterator[dict[str, Any] | RetryNotice]) -> Iterator[dict[str, Any]]:
        """The pages alone; ``on_retry`` hears of each retry, and of its end once a page comes through."""
        waiting = False
        for item in items:
            if isinstance(item, RetryNotice):
                waiting = True
                if self.on_retry is not None:
                    self.on_retry(item)
                continue
            if waiting:
                waiting = False
                if self.on_retry is not None:
                    self.on_retry(None)
            yield item

    def shards(self, root: str) -> list[ShardSpec]:
        bucket, prefix = split_root(root)
        prefixes: dict[str, None] = {}  # ordered and free of repeats if a retried page comes twice
        for page in self._told(self._pages(f"s3://{bucket}/{prefix}", "", Bucket=bucket, Prefix=prefix,
                                           Delimiter="/")):
            prefixes.update((common["Prefix"][len(prefix):], None) for common in page.get("CommonPrefixes", []))
        return [ShardSpec("", top_level_only=True), *(ShardSpec(name) for name in prefixes)]

    def iter_objects(self, root: str, shard: ShardSpec, start_after: str) -> Iterator[ListedObject]:
        bucket, prefix = split_root(root)
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix + shard.prefix, "FetchOwner": True}
        if shard.top_level_only:
            params["Delimiter"] = "/"
        start = prefix + start_after if start_after else ""
        for page in self._told(read_ahead(self._pages(f"s3://{bucket}/{prefix}{shard.prefix}", start, **params))):
            for item in page.get("Contents", []):
                key = item["Key"][len(prefix):]
                if key.endswith("/"):
                    continue  # a console "folder" marker, not data
                owner = item.get("Owner", {})
                modified = item.get("LastModified")
                yield ListedObject(key, int(item.get("Size", 0)), modified.timestamp() if modified else None,
                                   owner.get("DisplayName") or owner.get("ID", ""))

    def iter_batches(self, root: str, shard: ShardSpec, start_after: str, limit: int) -> Iterator[ObjectBatch]:
        return batched(self.iter_objects(root, shard, start_after), limit)
