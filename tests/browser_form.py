"""A page's dataset form read as a browser would submit it untouched."""

from html.parser import HTMLParser


class BrowserForm(HTMLParser):
    """The fields of the page's dataset form with the values a browser would submit for them untouched."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._in_form = False
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form" and "datasetform" in attributes.get("class", ""):
            self._in_form = True
        if not self._in_form:
            return
        if tag == "option" and self._select is not None and "selected" in attributes:
            self.data[self._select] = attributes.get("value", "")
        name = attributes.get("name", "__prefix__")
        if "__prefix__" in name:  # unnamed, or the template row scripts copy
            return
        if tag == "input" and attributes.get("type") not in {"checkbox", "submit"}:
            self.data[name] = attributes.get("value", "")
        elif tag == "textarea":
            self._textarea, self.data[name] = name, ""
        elif tag == "select":
            self._select = name
            self.data.setdefault(name, "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, text: str) -> None:
        if self._textarea is not None:
            self.data[self._textarea] += text

    def submitted(self) -> dict[str, str]:
        data = dict(self.data)
        for name, value in data.items():
            if "\n" in value:
                # The parser drops the newline right after <textarea>; a browser submits "\r\n" line ends.
                data[name] = value.removeprefix("\n").replace("\n", "\r\n")
        return data
