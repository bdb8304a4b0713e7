"""Credentials by reference: read at scan time from the environment or a secrets file, never stored."""

import configparser
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from storage.models import StorageConnection


class CredentialsError(Exception):
    """The referenced credentials cannot be read; the message names the reference, never a secret."""


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)


def _from_env(connection: StorageConnection) -> S3Credentials:
    missing = [name for name in (connection.access_key_env, connection.secret_key_env)
               if not name or not os.environ.get(name)]
    if missing:
        raise CredentialsError(f"Environment variable(s) {', '.join(missing) or 'for the secret key'} not set "
                               f"for connection '{connection.name}'.")
    token = os.environ.get(connection.session_token_env) if connection.session_token_env else None
    return S3Credentials(os.environ[connection.access_key_env], os.environ[connection.secret_key_env], token or None)


def _from_file(connection: StorageConnection) -> S3Credentials:
    path = Path(connection.secrets_file)
    key = connection.secrets_file_key or "default"
    if not path.is_absolute():  # saved before connections refused it: which file it names depends on the worker
        raise CredentialsError(f"The secrets file of connection '{connection.name}' must be given as an absolute "
                               "path.")
    try:
        text = path.read_text()
    except OSError as error:
        raise CredentialsError(f"Cannot read the secrets file of connection '{connection.name}' "
                               f"({error.strerror}).") from error
    if path.suffix == ".json":
        try:
            entry = json.loads(text)[key]
            return S3Credentials(entry["access_key_id"], entry["secret_access_key"], entry.get("session_token"))
        except (ValueError, KeyError, TypeError) as error:
            raise CredentialsError(f"The secrets file of connection '{connection.name}' has no usable entry "
                                   f"'{key}' (access_key_id, secret_access_key).") from error
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
        section = parser[key]
        return S3Credentials(section["aws_access_key_id"], section["aws_secret_access_key"],
                             section.get("aws_session_token"))
    except (configparser.Error, KeyError) as error:
        raise CredentialsError(f"The credentials file of connection '{connection.name}' has no usable profile "
                               f"'{key}'.") from error


def s3_credentials(connection: StorageConnection) -> S3Credentials:
    if connection.access_key_env:
        return _from_env(connection)
    if connection.secrets_file:
        return _from_file(connection)
    return S3Credentials()  # boto3's default chain (instance role, AWS_* variables, ~/.aws)
