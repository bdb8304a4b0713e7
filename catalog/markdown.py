"""Markdown to sanitised HTML, shared by the pages and the guideline exports.

Rendering never trusts stored text: whatever the validators let through (or an older version wrote), nh3
strips scripts, event handlers, styles and ``javascript:`` URLs here.
"""

import html
from collections.abc import Callable
from dataclasses import dataclass

import markdown as markdown_lib
import nh3
from django.utils.text import slugify
from markdown.extensions.toc import TocExtension

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}
HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# Heading anchors are generated with this prefix; other ids (e.g. raw HTML in the text) are dropped so that
# stored text cannot clobber ids the page relies on.
ANCHOR_PREFIX = "rule-"
_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]


@dataclass(frozen=True)
class Heading:
    level: int
    title: str
    anchor: str


def _anchor_slug(value: str, separator: str) -> str:
    return ANCHOR_PREFIX + (slugify(value) or "section")


def _keep_anchor_ids(element: str, attribute: str, value: str) -> str | None:
    if attribute == "id":
        return value if element in HEADING_TAGS and value.startswith(ANCHOR_PREFIX) else None
    return value


def render_markdown(text: str | None, *, heading_anchors: bool = False, images: bool = True) -> str:
    """Sanitised HTML; ``heading_anchors`` gives headings ``rule-…`` ids, ``images=False`` drops ``<img>``."""
    extensions: list[object] = list(_EXTENSIONS)
    if heading_anchors:
        extensions.append(TocExtension(slugify=_anchor_slug))
    html = markdown_lib.markdown(text or "", extensions=extensions)
    tags = ALLOWED_TAGS if images else ALLOWED_TAGS - {"img"}
    attributes: dict[str, set[str]] | None = None
    filter_: Callable[[str, str, str], str | None] | None = None
    if heading_anchors:
        attributes = {tag: {"id"} for tag in HEADING_TAGS}
        filter_ = _keep_anchor_ids
    return nh3.clean(
        html,
        tags=tags,
        attributes=_merged_attributes(attributes),
        attribute_filter=filter_,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def _merged_attributes(extra: dict[str, set[str]] | None) -> dict[str, set[str]]:
    merged = {tag: set(values) for tag, values in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag, values in (extra or {}).items():
        merged.setdefault(tag, set()).update(values)
    return merged


def markdown_headings(text: str | None) -> list[Heading]:
    """The headings of ``text`` with the anchors ``render_markdown(heading_anchors=True)`` gives them."""
    converter = markdown_lib.Markdown(
        extensions=[*_EXTENSIONS, TocExtension(slugify=_anchor_slug)]
    )
    converter.convert(text or "")
    headings: list[Heading] = []

    def walk(tokens: list[dict[str, object]]) -> None:
        for token in tokens:
            title = html.unescape(str(token["name"]))
            headings.append(Heading(level=int(str(token["level"])), title=title, anchor=str(token["id"])))
            children = token.get("children")
            if isinstance(children, list):
                walk(children)

    walk(getattr(converter, "toc_tokens", []))
    return headings
