"""What a datasheet's free-text licence names, as the export formats need it.

The datasheet asks for an SPDX identifier, a licence URL or the internal terms. A format can only use an
identifier it knows: DCAT points at the SPDX licence IRI, the Hugging Face Hub accepts the identifiers of its
own list (https://huggingface.co/docs/hub/repositories-licenses). Anything else is passed on as text.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

# SPDX identifier (canonical case) → the Hub's identifier, for every Hub licence SPDX also lists. The GPL family
# appears with SPDX's current "-only"/"-or-later" forms and the deprecated bare ones people still write.
SPDX_TO_HUB = {
    "Apache-2.0": "apache-2.0",
    "MIT": "mit",
    "AFL-3.0": "afl-3.0",
    "Artistic-2.0": "artistic-2.0",
    "BSL-1.0": "bsl-1.0",
    "BSD-2-Clause": "bsd-2-clause",
    "BSD-3-Clause": "bsd-3-clause",
    "BSD-3-Clause-Clear": "bsd-3-clause-clear",
    "C-UDA-1.0": "c-uda",
    "CC0-1.0": "cc0-1.0",
    **{f"CC-{kind}-{version}": f"cc-{kind.lower()}-{version}" for kind, versions in (
        ("BY", ("2.0", "2.5", "3.0", "4.0")),
        ("BY-SA", ("3.0", "4.0")),
        ("BY-NC", ("2.0", "3.0", "4.0")),
        ("BY-ND", ("4.0",)),
        ("BY-NC-ND", ("3.0", "4.0")),
        ("BY-NC-SA", ("2.0", "3.0", "4.0")),
    ) for version in versions},
    "CDLA-Sharing-1.0": "cdla-sharing-1.0",
    "CDLA-Permissive-1.0": "cdla-permissive-1.0",
    "CDLA-Permissive-2.0": "cdla-permissive-2.0",
    "WTFPL": "wtfpl",
    "ECL-2.0": "ecl-2.0",
    "EPL-1.0": "epl-1.0",
    "EPL-2.0": "epl-2.0",
    "etalab-2.0": "etalab-2.0",
    "EUPL-1.1": "eupl-1.1",
    **{f"{name}{suffix}": name.lower() for name in ("AGPL-3.0", "GPL-2.0", "GPL-3.0", "LGPL-2.1", "LGPL-3.0")
       for suffix in ("", "-only", "-or-later")},
    "ISC": "isc",
    "LPPL-1.3c": "lppl-1.3c",
    "MS-PL": "ms-pl",
    "MPL-2.0": "mpl-2.0",
    "ODC-By-1.0": "odc-by",
    "ODbL-1.0": "odbl",
    "OSL-3.0": "osl-3.0",
    "PostgreSQL": "postgresql",
    "OFL-1.1": "ofl-1.1",
    "NCSA": "ncsa",
    "Unlicense": "unlicense",
    "Zlib": "zlib",
    "PDDL-1.0": "pddl",
}
# The Hub's identifiers that name a licence family or a licence SPDX does not list.
HUB_ONLY = frozenset({
    "openrail", "bigscience-openrail-m", "creativeml-openrail-m", "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m", "bsd", "cc", "gfdl", "gpl", "lgpl", "openrail++", "lgpl-lr", "deepfloyd-if-license",
    "llama2", "gemma",
})
_SPDX_BY_KEY = {spdx.lower(): spdx for spdx in SPDX_TO_HUB}
_HUB_IDS = frozenset(SPDX_TO_HUB.values()) | HUB_ONLY


@dataclass(frozen=True)
class Licence:
    text: str  # as the datasheet states it, "" when it states none
    spdx: str | None  # the canonical SPDX identifier
    hub: str | None  # the Hub's identifier
    url: str | None  # when the licence is given as a web address

    @property
    def spdx_iri(self) -> str | None:
        return f"http://spdx.org/licenses/{self.spdx}" if self.spdx else None

    @property
    def name_id(self) -> str:
        """An identifier for a licence the Hub does not list (its ``license_name``), e.g. ``acme-data-terms``."""
        source = self.text
        if self.url:
            parts = urlsplit(self.url)
            source = next((part for part in reversed(parts.path.split("/")) if part), parts.netloc)
        return re.sub(r"[^a-z0-9.]+", "-", source.lower())[:64].strip("-.") or "custom"


def licence_of(text: str) -> Licence:
    text = text.strip()
    key = text.removeprefix("SPDX-License-Identifier:").strip().lower()
    spdx = _SPDX_BY_KEY.get(key)
    hub = SPDX_TO_HUB[spdx] if spdx else (key if key in _HUB_IDS else None)
    return Licence(text=text, spdx=spdx, hub=hub, url=text if _is_web_address(text) else None)


_SPDX_PAGE = re.compile(r"\Ahttps?://spdx\.org/licenses/([A-Za-z0-9.+-]+?)(?:\.html)?/?\Z")


def spdx_identifier_at(text: str) -> str:
    """``text``, or the SPDX identifier whose licence page it is (``http://spdx.org/licenses/CC-BY-4.0``)."""
    match = _SPDX_PAGE.match(text)
    return _SPDX_BY_KEY.get(match.group(1).lower(), text) if match else text


def _is_web_address(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced "[" read as an IPv6 host
        return False
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and not re.search(r"\s", text)
