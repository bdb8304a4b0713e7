"""A moto S3 server (its own process) holding a copy of a local DVC remote, filled through moto's backend.

    python -m bench.dvc_remote_store <port> <bucket> <directory>
"""

import logging
import os
import sys
import time
from pathlib import Path

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port, bucket, directory = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    backend.create_bucket(bucket, "us-east-1")
    for dirpath, _, names in os.walk(directory):
        for name in names:
            path = Path(dirpath) / name
            backend.put_object(bucket, str(path.relative_to(directory)), path.read_bytes(), disable_notification=True)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
