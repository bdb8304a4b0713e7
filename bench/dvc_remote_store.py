"""A moto S3 server (its own process) holding a copy of a local DVC remote, filled through moto's backend.

    python -m bench.dvc_remote_store <port> <bucket> <directory>
"""

import os
import sys
from pathlib import Path

from bench.scan_store import moto_backend, serve_forever


def main() -> None:
    port, bucket, directory = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    backend = moto_backend()
    backend.create_bucket(bucket, "us-east-1")
    for dirpath, _, names in os.walk(directory):
        for name in names:
            path = Path(dirpath) / name
            backend.put_object(bucket, str(path.relative_to(directory)), path.read_bytes(), disable_notification=True)
    serve_forever(port)


if __name__ == "__main__":
    main()
