"""What text PostgreSQL can store: no NUL character and no unpaired surrogate (from a ``\\ud800`` escape)."""

from typing import Any


def storable(value: Any) -> bool:
    """Whether every string in ``value`` (a parsed JSON value: keys, items, nested) can be stored."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(storable(key) and storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(storable(item) for item in value)
    return True


def nests_deeper_than(data: Any, limit: int) -> bool:
    """Whether parsed JSON nests more than ``limit`` levels; without recursion, so that the check itself cannot
    run out of stack (what reads the data afterwards recurses)."""
    level: list[Any] = [data]
    for _ in range(limit):
        level = [
            child
            for value in level if isinstance(value, dict | list)
            for child in (value.values() if isinstance(value, dict) else value)
        ]
        if not level:
            return False
    return any(isinstance(value, dict | list) for value in level)


def positive_whole_number(text: str) -> int | None:
    """``text`` as a number from 1 (a page, a revision), else None. ``str.isdigit`` alone also accepts '²', which
    ``int`` refuses."""
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None
