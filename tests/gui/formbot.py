"""A browser without JavaScript, for tests: reads the forms of a page and submits them as a browser would.

It sends exactly what an HTML form sends (hidden and text inputs, checked
checkboxes and radio buttons, selected options, and only the button that
was clicked), so a flow that works here works in any browser with
JavaScript off, lynx and w3m included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin


@dataclass
class Control:
    tag: str  # input | select | button | textarea
    type: str
    name: str | None
    value: str
    id: str | None
    checked: bool = False
    options: list[tuple[str, bool]] = field(default_factory=list)  # select: (value, selected)


@dataclass
class Form:
    action: str
    method: str
    controls: list[Control] = field(default_factory=list)

    def control(self, key: str) -> Control:
        """By id (``#x`` or ``x``) or by name."""
        key = key.lstrip("#")
        for c in self.controls:
            if c.id == key:
                return c
        for c in self.controls:
            if c.name == key and c.tag != "button":
                return c
        raise KeyError(f"no control {key!r} in form {self.action}")

    def has(self, key: str) -> bool:
        try:
            self.control(key)
        except KeyError:
            return False
        return True

    def fill(self, **values: Any) -> Form:
        for key, value in values.items():
            c = self.control(key)
            if c.tag == "select":
                wanted = str(value)
                if not any(v == wanted for v, _ in c.options):
                    raise ValueError(f"{key}: no option {wanted!r} in {[v for v, _ in c.options]}")
                c.options = [(v, v == wanted) for v, _ in c.options]
            elif c.type == "checkbox":
                c.checked = bool(value)
            elif c.type == "radio":
                for other in self.controls:
                    if other.type == "radio" and other.name == c.name:
                        other.checked = other is c
            else:
                c.value = str(value)
        return self

    def choose(self, radio_id: str) -> Form:
        return self.fill(**{radio_id: True})

    def data(self, button: str | None = None) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for c in self.controls:
            if not c.name:
                continue
            if c.tag == "button" or c.type == "submit":
                if button is not None and (
                    c.id == button.lstrip("#") or f"{c.name}={c.value}" == button
                ):
                    out.append((c.name, c.value))
            elif c.tag == "select":
                chosen = [v for v, s in c.options if s] or [c.options[0][0]] if c.options else []
                out.extend((c.name, v) for v in chosen[:1])
            elif c.type in ("checkbox", "radio"):
                if c.checked:
                    out.append((c.name, c.value or "on"))
            else:
                out.append((c.name, c.value))
        return out


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.ids: set[str] = set()
        self._form: Form | None = None
        self._select: Control | None = None
        self._option: dict[str, Any] | None = None
        self._textarea: Control | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._form)
        if self._form is None:
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            self._form.controls.append(
                Control(
                    "input",
                    kind,
                    a.get("name"),
                    a.get("value", "on" if kind in ("checkbox", "radio") else ""),
                    a.get("id"),
                    "checked" in a,
                )
            )
        elif tag == "button":
            self._form.controls.append(
                Control(
                    "button",
                    a.get("type", "submit"),
                    a.get("name"),
                    a.get("value", ""),
                    a.get("id"),
                )
            )
        elif tag == "select":
            self._select = Control("select", "select", a.get("name"), "", a.get("id"))
            self._form.controls.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
        elif tag == "textarea":
            self._textarea = Control("textarea", "textarea", a.get("name"), "", a.get("id"))
            self._form.controls.append(self._textarea)

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option["text"] += data
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self._option is not None and self._select is not None:
            value = (
                self._option["value"]
                if self._option["value"] is not None
                else self._option["text"].strip()
            )
            self._select.options.append((value, self._option["selected"]))
            self._option = None
        elif tag == "select":
            if self._option is not None and self._select is not None:
                self.handle_endtag("option")
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._form = None


@dataclass
class Page:
    url: str
    status: int
    html: str
    forms: list[Form]
    ids: set[str]

    def form(self, containing: str) -> Form:
        """The form holding the control with this id."""
        for f in self.forms:
            if f.has(containing):
                return f
        raise KeyError(f"no form with {containing!r} on {self.url}")


class Bot:
    """Drives a TestClient or httpx.Client like a browser with JavaScript off."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.page: Page | None = None

    def _follow(self, response: Any) -> Page:
        hops = 0
        while response.status_code in (301, 302, 303, 307) and hops < 10:
            location = response.headers["location"]
            response = self.client.get(urljoin(str(response.url), location))
            hops += 1
        parser = _Parser()
        parser.feed(response.text)
        self.page = Page(
            str(response.url), response.status_code, response.text, parser.forms, parser.ids
        )
        return self.page

    def get(self, url: str) -> Page:
        return self._follow(self.client.get(url))

    def click(self, button: str, form: Form | None = None) -> Page:
        """Submit the form that holds `button` (an id), as if that button was clicked."""
        assert self.page is not None
        form = form or self.page.form(button)
        data = form.data(button)
        target = urljoin(self.page.url, form.action or self.page.url)
        if form.method == "post":
            body = urlencode(data)
            response = self.client.post(
                target, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
            )
        else:
            response = self.client.get(target, params=data)
        return self._follow(response)

    def link(self, link_id: str) -> Page:
        """Follow <a id=link_id href=...>."""
        assert self.page is not None
        import re

        m = re.search(
            rf'<a [^>]*href="([^"]+)"[^>]*id="{link_id}"|<a [^>]*id="{link_id}"[^>]*href="([^"]+)"',
            self.page.html,
        )
        if m is None:
            raise KeyError(f"no link {link_id!r} on {self.page.url}")
        href = (m.group(1) or m.group(2)).replace("&amp;", "&")
        return self.get(urljoin(self.page.url, href))
