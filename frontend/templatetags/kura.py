import json
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from annotations.exports import pretty_snippet
from annotations.label_schema import attribute_text as schema_attribute_text
from catalog.markdown import render_markdown as render_safe_markdown
from storage.listers.local import PAST_EVERY_NAME

register = template.Library()

@register.filter(name="markdown")
def render_markdown(text: str | None) -> SafeString:
    """Markdown to HTML with everything active stripped (scripts, handlers, javascript: URLs)."""
    return mark_safe(render_safe_markdown(text))  # noqa: S308 - sanitised by nh3 in render_safe_markdown


@register.filter(name="guideline_markdown")
def render_guideline_markdown(text: str | None) -> SafeString:
    """Like ``markdown``, with ``rule-…`` anchors on headings so correction examples can link to their rule."""
    return mark_safe(render_safe_markdown(text, heading_anchors=True))  # noqa: S308 - sanitised in the renderer


@register.filter
def filesize(value: Any) -> str:
    size = float(value or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PB"


@register.filter
def duration(seconds: Any) -> str:
    """Seconds as a person reads them: '45 s', '3 min', '2 h 10 min'."""
    total = int(float(seconds or 0))
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


@register.filter
def web_url(url: str) -> str:
    """``url`` when a browser can open it (http or https), else "": an ssh or scp-like git URL is no link."""
    return url if url.lower().startswith(("https://", "http://")) else ""


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced (for pagination links)."""
    query = context["request"].GET.copy()
    for key, value in changes.items():
        query[key] = value
    return str(query.urlencode())


@register.filter
def get_item(mapping: dict[Any, Any], key: Any) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def snippet(value: str) -> str:
    """An annotation snippet for display: JSON indented, anything else as written (escaped by the template)."""
    return pretty_snippet(value or "")


@register.filter
def attribute_text(value: Any) -> str:
    return schema_attribute_text(value)


@register.filter
def checkpoint(last_key: str) -> str:
    """A shard's checkpoint as people read it: after a directory counted whole, the checkpoint ends in a
    character that sorts after every name (``PAST_EVERY_NAME``), which shows as a blank box."""
    return last_key.removesuffix(PAST_EVERY_NAME)
