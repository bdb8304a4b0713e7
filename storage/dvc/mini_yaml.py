"""A strict reader for the block-style YAML subset DVC writes, ~20x faster than libyaml on small files.

It accepts only what it fully understands — block mappings and sequences, plain integers, booleans, null,
simple floats and unescaped strings — and returns ``None`` for anything else (flow collections, anchors,
multi-line scalars, comments after values, YAML 1.1 oddities like ``yes``), so the caller falls back to a real
YAML parser and the result never differs from ``yaml.safe_load``.
"""

import functools
import re
from typing import Any

import yaml

_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?[0-9]+\.[0-9]+$")
_UNSAFE_START = tuple("[]{}&*!|>%@`\"#,?:-")
# PyYAML's own implicit-type rules decide what a plain scalar is, so "yes", "0o17" or "1:30" never diverge.
_RESOLVER = yaml.resolver.Resolver()
_STR, _INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_BOOL_TAG, _NULL_TAG = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
_EXACT = {"true": True, "false": False, "null": None}
# Lower-case hex with a letter in it (an md5) matches no implicit YAML type unless it is a binary int ("0b1…"):
# float needs a '.', the other ints only digits or "0x", timestamps a '-', bool and null words other letters.
_HEX_STRING = re.compile(r"[0-9a-f]*[a-f][0-9a-f]*")
_UNSUPPORTED = object()


class _Unsupported(Exception):
    pass


def _scalar(text: str) -> Any:
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'") or "'" in text[1:-1].replace("''", ""):
            raise _Unsupported
        return text[1:-1].replace("''", "'")
    if _HEX_STRING.fullmatch(text) and not text.startswith("0b"):
        return text  # a hash: most scalars of a dvc.lock, and all distinct, so not worth caching
    value = _plain_scalar(text)
    if value is _UNSUPPORTED:
        raise _Unsupported
    return value


@functools.lru_cache(maxsize=4096)
def _plain_scalar(text: str) -> Any:
    """The value of an unquoted scalar, or ``_UNSUPPORTED``; cached as keys' values recur across a history."""
    if text.startswith(_UNSAFE_START) or " #" in text or ": " in text or text.endswith(":"):
        return _UNSUPPORTED
    tag = _RESOLVER.resolve(yaml.nodes.ScalarNode, text, (True, False))
    if tag == _STR:
        return text
    if tag == _INT_TAG and _INT.fullmatch(text):
        return int(text)
    if tag == _FLOAT_TAG and _FLOAT.fullmatch(text):
        return float(text)
    if tag in (_BOOL_TAG, _NULL_TAG) and text in _EXACT:
        return _EXACT[text]
    return _UNSUPPORTED


def _lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    for raw in text.splitlines():
        if "\t" in raw:
            raise _Unsupported
        content = raw.strip(" ")
        if not content or content.startswith("#"):
            continue
        if content.startswith(("---", "...", "%")):
            raise _Unsupported
        lines.append((len(raw) - len(raw.lstrip(" ")), content))
    return lines


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _node(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[Any, int]:
    if _is_item(lines[index][1]):
        return _sequence(lines, index, indent)
    return _mapping(lines, index, indent)


def _sequence(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while index < len(lines) and lines[index][0] == indent and _is_item(lines[index][1]):
        rest = lines[index][1][2:].lstrip(" ")
        if not rest:
            if index + 1 >= len(lines) or lines[index + 1][0] <= indent:
                raise _Unsupported
            item, index = _node(lines, index + 1, lines[index + 1][0])
        elif ": " in rest or rest.endswith(":"):
            # "- key: value" opens a mapping whose keys sit two columns right of the dash.
            lines[index] = (indent + 2 + (len(lines[index][1][2:]) - len(rest)), rest)
            item, index = _mapping(lines, index, lines[index][0])
        else:
            item, index = _scalar(rest), index + 1
        items.append(item)
    return items, index


def _mapping(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    while index < len(lines) and lines[index][0] == indent and not _is_item(lines[index][1]):
        content = lines[index][1]
        if content.endswith(":"):
            key, rest = content[:-1], ""
        else:
            key, sep, rest = content.partition(": ")
            if not sep:
                raise _Unsupported
            rest = rest.strip(" ")
        if not key or key.startswith(_UNSAFE_START) or key.startswith("'") or key in result or ": " in key:
            raise _Unsupported
        index += 1
        if rest:
            result[key] = _scalar(rest)
        elif index < len(lines) and (
            lines[index][0] > indent or (lines[index][0] == indent and _is_item(lines[index][1]))
        ):
            result[key], index = _node(lines, index, lines[index][0])
        else:
            result[key] = None
    if index < len(lines) and lines[index][0] > indent:
        raise _Unsupported
    return result, index


def plain_string(text: str) -> bool:
    """True if ``text`` written unquoted reads back as exactly this string."""
    try:
        return text == text.strip() and _scalar(text) == text
    except _Unsupported:
        return False


def load(text: str) -> Any | None:
    """The parsed document, or None when the text is outside the subset (the caller then uses PyYAML)."""
    try:
        lines = _lines(text)
        if not lines:
            return None
        value, index = _node(lines, 0, lines[0][0])
        if index != len(lines):
            return None
        return value
    except (_Unsupported, IndexError):
        return None
