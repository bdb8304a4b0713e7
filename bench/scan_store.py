"""A moto S3 server (its own process) pre-filled straight through moto's backend, which is far faster than
200,000 PUTs over HTTP. Listing still goes over HTTP like any S3 endpoint.

    python -m bench.scan_store <port> <bucket>=<objects> [<bucket>=<objects> ...]
"""

import logging
import sys
import time
from typing import NoReturn

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.models import S3Backend, s3_backends
from moto.server import ThreadedMotoServer

from bench.scan_layout import object_keys


def moto_backend() -> S3Backend:
    """The in-process S3 backend the moto server below answers from; fill it before serving."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request would dominate the output
    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


def serve_forever(port: int) -> NoReturn:
    """Serve the filled backend over HTTP on ``port``, tell the parent "ready" on stdout, and never return."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


def main() -> None:
    port = int(sys.argv[1])
    backend = moto_backend()
    for spec in sys.argv[2:]:
        bucket, _, count = spec.partition("=")
        backend.create_bucket(bucket, "us-east-1")
        for key, size in object_keys(int(count)):
            backend.put_object(bucket, key, b"k" * size, disable_notification=True)
    serve_forever(port)


if __name__ == "__main__":
    main()
