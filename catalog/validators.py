import re

from django.core.exceptions import ValidationError
from django.utils.text import slugify

# Checked with fullmatch: "$" alone lets a final newline through ("v1\n"). The patterns keep "^" and "$"
# because the OpenAPI schema (catalog.api.schema) publishes them, and "\Z" is no ECMAScript.
SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,98})[a-z0-9]$")
VERSION_LABEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
GIT_COMMIT_PATTERN = re.compile(r"^[0-9a-f]{7,64}$")
RESERVED_LABELS = {"latest"}
TAG_MAX_LENGTH = 50
# What git clones from: a URL of a transport git speaks, scp-like [user@]host:path, or a path on the server.
# Anything else (javascript:, data:, a bare word) would be carried into pages, cards and exports as a "URL".
_GIT_REPOSITORY_URL = re.compile(
    r"^(?:(?:https?|ssh|git|git\+ssh)://[^\s/]\S*|file:///\S+|(?:[\w.+-]+@)?[\w-]+(?:\.[\w-]+)+:(?!//)\S+"
    r"|[\w.+-]+@[\w.-]+:\S+|/[^\x00-\x1f]*)$",
    re.IGNORECASE,
)
# An event handler is an attribute inside a tag; prose such as "the onset = first audible sample" is no HTML.
_UNSAFE_MARKDOWN = re.compile(
    r"<\s*(script|iframe|object|embed|style)\b|<[a-z][^>]*?[\s/\"']on[a-z]+\s*=|javascript\s*:", re.IGNORECASE
)


def validate_dataset_slug(value: str) -> None:
    if not SLUG_PATTERN.fullmatch(value) or "--" in value:
        raise ValidationError(
            "A slug is 3 to 100 lowercase letters, digits and single hyphens, starting and ending with a letter "
            "or digit (e.g. 'street-signs-eu').",
            code="invalid_slug",
        )


def slug_from_text(text: str, *, fallback: str) -> str:
    """A valid dataset slug made from ``text`` (a name, a folder), ``fallback`` when nothing usable is left."""
    base = re.sub(r"-{2,}", "-", slugify(text).replace("_", "-"))[:90].strip("-")
    if len(base) < 3:
        base = f"{fallback}-{base}" if base else fallback
    try:
        validate_dataset_slug(base)
    except ValidationError:
        return fallback
    return base


def normalise_tag(raw: str) -> str:
    """A tag as the catalog stores it: lowercase, spaces as hyphens; "" for a blank one."""
    name = raw.strip().lower().replace(" ", "-")
    if len(name) > TAG_MAX_LENGTH or not all(ch.isalnum() or ch in "-_" for ch in name):
        raise ValidationError(f"'{raw}' is not a valid tag (letters, digits, '-' and '_').", code="invalid_tag")
    return name


def validate_version_label(value: str) -> None:
    if value in RESERVED_LABELS:
        raise ValidationError("'latest' is reserved: it always means the newest published version.", code="reserved")
    if not VERSION_LABEL_PATTERN.fullmatch(value):
        raise ValidationError(
            "A version label is up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(e.g. 'v3' or '2026-11-01').",
            code="invalid_label",
        )


def validate_git_commit(value: str) -> None:
    if not GIT_COMMIT_PATTERN.fullmatch(value):
        raise ValidationError("A git commit is 7 to 64 lowercase hexadecimal characters.", code="invalid_commit")


def validate_git_repository_url(value: str) -> None:
    if value and not _GIT_REPOSITORY_URL.fullmatch(value):
        raise ValidationError(
            "Give the repository as git clones it: https://host/group/repo.git, ssh://host/repo.git, "
            "git@host:group/repo.git, or a path on the server (/srv/git/repo.git).",
            code="invalid_repository_url",
        )


def validate_safe_markdown(value: str) -> None:
    """Markdown is sanitised on render too; refusing active content up front tells the author why."""
    match = _UNSAFE_MARKDOWN.search(value)
    if match:
        raise ValidationError(
            f"Markdown may not contain active HTML such as '{match.group(0).strip()}': scripts, frames, "
            "styles, event handlers and javascript: links are not allowed.",
            code="unsafe_markdown",
        )
