"""Reading a JSON-LD document's properties without a JSON-LD processor (and without fetching its remote context).

A key is matched by the IRI it stands for, whether written as a term of the document's @context (or of
Croissant's published one: ``name``, ``citeAs``), with a prefix (``rai:dataUseCases``, ``sc:name``) or in full
(``https://schema.org/name``, also with ``http://``). A text may be a string, a number, a ``@value``, a list
or a language map; where a value holds several languages, English is taken and the rest is noted.
"""

import re
from collections.abc import Iterator
from typing import Any

SCHEMA = "https://schema.org/"
CR = "http://mlcommons.org/croissant/"
RAI = "http://mlcommons.org/croissant/RAI/"
DCT = "http://purl.org/dc/terms/"
_PREFIXES = {"sc": SCHEMA, "schema": SCHEMA, "cr": CR, "rai": RAI, "dct": DCT}
# Both spellings of these namespaces are in use; IRIs are compared in one of them.
_SPELLINGS = {"http://schema.org/": SCHEMA, "https://mlcommons.org/croissant/": CR}
_LANGUAGE_TAG = re.compile(r"\A[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*\Z")


class Terms:
    """The document's own @context, enough to turn a key into the IRI it stands for. A remote context (a URL)
    is not fetched: the standard prefixes and schema.org as vocabulary stand in for Croissant's."""

    def __init__(self, context: Any) -> None:
        self.prefixes = dict(_PREFIXES)
        self.terms: dict[str, str] = {}
        self.vocab = SCHEMA
        self.language = ""
        for entry in context if isinstance(context, list) else [context]:
            if not isinstance(entry, dict):
                continue
            for key, value in entry.items():
                if key == "@vocab" and isinstance(value, str):
                    self.vocab = value
                elif key == "@language" and isinstance(value, str):
                    self.language = value
                elif key.startswith("@"):
                    continue
                elif isinstance(value, str):
                    (self.prefixes if value.endswith(("/", "#")) else self.terms)[key] = value
                elif isinstance(value, dict) and isinstance(value.get("@id"), str):
                    self.terms[key] = value["@id"]

    def iri(self, key: str) -> str:
        key = self.terms.get(key, key)
        prefix, colon, local = key.partition(":")
        if not colon:
            return _canonical(self.vocab + key)
        if local.startswith("//"):
            return _canonical(key)
        return _canonical(self.prefixes[prefix] + local) if prefix in self.prefixes else key


def _canonical(iri: str) -> str:
    for spelling, canonical in _SPELLINGS.items():
        if iri.startswith(spelling):
            return canonical + iri[len(spelling):]
    return iri


class Node:
    """One JSON-LD node's properties by IRI. It remembers which were read, so the rest can be reported, and
    adds to ``notes`` what reading a text left out."""

    def __init__(self, data: dict[str, Any], terms: Terms, notes: list[str]) -> None:
        self.data = data
        self.terms = terms
        self.notes = notes
        self.written: dict[str, str] = {}  # IRI -> the key as the document writes it
        self.values: dict[str, list[Any]] = {}
        self.read: set[str] = set()
        for key, value in data.items():
            if key.startswith("@"):
                continue
            iri = terms.iri(key)
            self.written.setdefault(iri, key)
            self.values.setdefault(iri, []).extend(value if isinstance(value, list) else [value])

    def child(self, data: dict[str, Any]) -> "Node":
        return Node(data, self.terms, self.notes)

    def types(self) -> list[str]:
        raw = self.data.get("@type")
        return [self.terms.iri(value) for value in (raw if isinstance(raw, list) else [raw]) if isinstance(value, str)]

    def key(self, iri: str) -> str:
        return self.written.get(iri, iri)

    def get(self, iri: str) -> list[Any]:
        self.read.add(iri)
        return [value for value in self.values.get(iri, []) if value is not None]

    def unused(self) -> list[str]:
        """The keys never read, as the document writes them."""
        return [key for iri, key in self.written.items() if iri not in self.read]

    def texts(self, value: Any, iri: str) -> Iterator[str]:
        """The texts one value of property ``iri`` holds."""
        yield from self._texts(value, self.key(iri))

    def text(self, iri: str, *, separator: str = "\n\n") -> str:
        """All texts of property ``iri``, stripped, repeated ones once, joined by ``separator``."""
        label = self.key(iri)
        texts: list[str] = []
        for text in self._texts(self._in_one_language(self.get(iri), label), label):
            if text.strip() and text.strip() not in texts:
                texts.append(text.strip())
        return separator.join(texts)

    def _texts(self, value: Any, label: str) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield str(value)
        elif isinstance(value, list):
            for item in value:
                yield from self._texts(item, label)
        elif isinstance(value, dict):
            if "@value" in value:
                yield from self._texts(value["@value"], label)
            elif "@list" in value or "@set" in value:
                yield from self._texts(value.get("@list", value.get("@set")), label)
            elif value and all(_LANGUAGE_TAG.match(key) for key in value):
                yield from self._texts(value[self._choose_language(list(value), label)], label)
            else:
                self.notes.append(f"{label}: a structured value where a text was expected was not imported.")

    def _in_one_language(self, values: list[Any], label: str) -> list[Any]:
        """Values tagged ``{"@value", "@language"}`` in several languages (an expanded language map) narrowed
        to one language."""
        by_language: dict[str, list[Any]] = {}
        for value in values:
            if isinstance(value, dict) and "@value" in value and isinstance(value.get("@language"), str):
                by_language.setdefault(value["@language"], []).append(value)
        if len(by_language) < 2:
            return values
        chosen = self._choose_language(list(by_language), label)
        tagged = [value for group in by_language.values() for value in group]
        return [value for value in values if value not in tagged] + by_language[chosen]

    def _choose_language(self, languages: list[str], label: str) -> str:
        """English, else the document's default language, else the first; the others are noted as left out."""
        chosen = next(
            (
                tag
                for wanted in ("en", self.terms.language.lower())
                for tag in languages
                if wanted and (tag.lower() == wanted or tag.lower().startswith(f"{wanted}-"))
            ),
            languages[0],
        )
        others = [tag for tag in languages if tag != chosen]
        if others:
            self.notes.append(
                f"{label}: took the '{chosen}' text; the other languages ({', '.join(others)}) were not imported."
            )
        return chosen
