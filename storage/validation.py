"""Checks that keep a connection from pointing Kura at places it must not reach.

Endpoint URLs may not resolve to loopback, private, link-local or cloud-metadata addresses unless
KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS covers them; local roots must resolve (symlinks and ``..``
included) inside KURA_LOCAL_ROOTS.
"""

import ipaddress
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance-metadata services answer credentials to whoever asks; a wide allow-list entry never opens them.
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("169.254.170.2"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def _allowed_networks() -> list[IPNetwork]:
    networks: list[IPNetwork] = []
    for entry in settings.KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as error:
            raise ValidationError(f"KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS has a bad entry {entry!r}.") from error
    return networks


def _is_public(address: IPAddress) -> bool:
    if address in METADATA_ADDRESSES:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _is_public(address.ipv4_mapped)
    return address.is_global and not (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT)


def address_allowed(address: IPAddress) -> bool:
    if _is_public(address):
        return True
    for network in _allowed_networks():
        if address in network and (address not in METADATA_ADDRESSES or network.num_addresses == 1):
            return True
    return False


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ValidationError(f"The endpoint host '{host}' does not resolve ({error.strerror}).",
                              code="endpoint_unresolvable") from error
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def validate_endpoint_url(url: str) -> str:
    """Return the normalised URL or raise; an empty URL means the provider's default endpoint."""
    url = url.strip()
    if not url:
        return ""
    malformed = ValidationError("The endpoint must be an http:// or https:// URL with a host.", code="invalid_endpoint")
    try:
        parts = urlsplit(url)
        port = parts.port  # urllib reads the port (and a bracketed IPv6 host) only when asked, and may refuse it
    except ValueError as error:
        raise malformed from error
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise malformed
    if parts.username or parts.password:
        raise ValidationError("Put credentials in environment variables or a secrets file, not in the URL.",
                              code="invalid_endpoint")
    port = port or (443 if parts.scheme == "https" else 80)
    for address in _resolve(parts.hostname, port):
        if not address_allowed(address):
            raise ValidationError(
                f"The endpoint '{parts.hostname}' resolves to {address}, a private, loopback, link-local or "
                "metadata address; an administrator must allow it in KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS.",
                code="endpoint_not_allowed",
            )
    return url.rstrip("/")


def allowed_local_roots() -> list[Path]:
    return [Path(os.path.realpath(root)) for root in settings.KURA_LOCAL_ROOTS]


def resolve_local_root(raw: str) -> Path:
    """The real directory ``raw`` names, if it lies inside an allow-listed root; raises otherwise."""
    if not raw or not os.path.isabs(raw):
        raise ValidationError(f"'{raw}' must be an absolute directory path.", code="invalid_root")
    real = Path(os.path.realpath(raw))
    for root in allowed_local_roots():
        if real == root or root in real.parents:
            if not real.is_dir():
                raise ValidationError(f"'{raw}' is not a directory.", code="invalid_root")
            return real
    raise ValidationError(
        f"'{raw}' resolves to '{real}', outside the allowed roots (KURA_LOCAL_ROOTS).", code="root_not_allowed"
    )
