"""Markdown to safe HTML: CommonMark and tables (markdown-it-py), our link rules, nh3.

A body is parsed once (``parse_body``) and rendered once per audience
(``render_html``), because whether a link to another document is a link
depends on whether the reader may see that document.

Links, by their target:

- the id of a content document (``glossary-customer``, ``glossary-customer#invoice``,
  also ``glossary-customer.md``) → that page, ``/pages/<id>/`` with the fragment kept;
  a document the reader cannot see, or that does not exist, → the text marked
  "not published", no link;
- ``http:``/``https:`` URLs → themselves; a bare domain (``www.google.com``,
  ``example.org/path``) → ``https://`` + it; both marked external, with
  ``rel="noopener noreferrer"``;
- ``mailto:`` (or a bare e-mail address) → a mail link; ``/path`` and ``#anchor`` → themselves;
- anything else (``javascript:``, ``data:``, ...) → the text alone, no link.

Raw HTML in a file is shown as text, never interpreted; and whatever the
renderer produces passes through nh3 with an allow-list at the end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import nh3
from django.urls import reverse
from django.utils.text import slugify
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from .schema import DOC_ID_RE

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_DOMAIN = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?::\d{1,5})?(?:[/?#]\S*)?$",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"^[^@\s/:]+@[a-z0-9.-]+\.[a-z]{2,63}$", re.IGNORECASE)
_LOCAL_PATH = re.compile(r"^/(?![/\\])")
_FRAGMENT_SAFE = "-._~!$&'()*+,;=:@/?"
# Ids used by the page around the body; a heading must not take one.
RESERVED_ANCHORS = frozenset(
    {
        "main",
        "content",
        "toc",
        "toc-heading",
        "facts",
        "facts-heading",
        "related",
        "related-heading",
    }
    | {"referenced-by", "referenced-by-heading", "search", "language-select", "customer-switch"}
)
SUMMARY_LENGTH = 240
TOC_LEVELS = (2, 3)
# Search snippets are marked with these; they must never occur in indexed text.
MARK_START, MARK_END = "\x02", "\x03"


class LinkKind(StrEnum):
    DOCUMENT = "document"
    EXTERNAL = "external"
    MAIL = "mail"
    LOCAL = "local"
    INVALID = "invalid"


@dataclass(frozen=True)
class Link:
    kind: LinkKind
    href: str = ""
    target_id: str = ""
    fragment: str = ""
    reason: str = ""


def classify_link(target: str) -> Link:
    """What a link target written in a content file points at."""
    target = target.strip()
    if not target:
        return Link(LinkKind.INVALID, reason="the link has no target")
    if target.startswith("#"):
        return Link(LinkKind.LOCAL, href=target)
    if target.startswith("//"):
        return Link(LinkKind.EXTERNAL, href="https:" + target)
    if target.startswith("/"):
        if _LOCAL_PATH.match(target):
            return Link(LinkKind.LOCAL, href=target)
        return Link(LinkKind.INVALID, reason=f"{target!r} is not a usable address")
    path, _, fragment = target.partition("#")
    path = path.removeprefix("./")
    # ``other-page.md`` links to another content file (as on a code forge), not to Moldova.
    if path.endswith(".md") and DOC_ID_RE.match(path[:-3]):
        return Link(LinkKind.DOCUMENT, target_id=path[:-3], fragment=fragment)
    if _DOMAIN.match(target):
        return Link(LinkKind.EXTERNAL, href="https://" + target)
    scheme = _SCHEME.match(target)
    if scheme:
        name = scheme.group(1).lower()
        if name in {"http", "https"}:
            return Link(LinkKind.EXTERNAL, href=target)
        if name == "mailto":
            return Link(LinkKind.MAIL, href=target)
        return Link(LinkKind.INVALID, reason=f"links with {name}: are not allowed")
    if _EMAIL.match(target):
        return Link(LinkKind.MAIL, href="mailto:" + target)
    if DOC_ID_RE.match(path):
        return Link(LinkKind.DOCUMENT, target_id=path, fragment=fragment)
    return Link(
        LinkKind.INVALID,
        reason=f"{target!r} is not a document id, a web address or an e-mail address",
    )


def document_url(doc_id: str, fragment: str = "") -> str:
    url = reverse("content:page", kwargs={"doc_id": doc_id})
    return f"{url}#{quote(fragment, safe=_FRAGMENT_SAFE)}" if fragment else url


@dataclass(frozen=True)
class TocEntry:
    level: int
    anchor: str
    text: str


@dataclass(frozen=True)
class LinkUse:
    link: Link
    target: str  # as written (after CommonMark's URL normalisation)
    text: str
    line: int  # in the body, 1-based


@dataclass
class ParsedBody:
    tokens: list[Token]
    toc: list[TocEntry] = field(default_factory=list)
    text: str = ""
    summary: str = ""
    links: list[LinkUse] = field(default_factory=list)
    raw_html_lines: list[int] = field(default_factory=list)


class _Markdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:  # noqa: N802 - markdown-it's name
        # Every target reaches our renderer, which decides (see classify_link);
        # markdown-it's own check would print a refused link as raw Markdown.
        return True


class _Renderer(RendererHTML):
    def link_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        link: Link | None = tokens[idx].meta.get("link")
        decision = _decide(link, env)
        if decision is None:
            return ""
        if decision == _UNPUBLISHED:
            return '<span class="link-unpublished">'
        title = tokens[idx].attrGet("title")
        title_attr = f' title="{escapeHtml(str(title))}"' if title else ""
        if link is not None and link.kind == LinkKind.EXTERNAL:
            return (
                f'<a href="{escapeHtml(decision)}" class="external" '
                f'rel="noopener noreferrer"{title_attr}>'
            )
        return f'<a href="{escapeHtml(decision)}"{title_attr}>'

    def link_close(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        link: Link | None = tokens[idx].meta.get("link")
        decision = _decide(link, env)
        if decision is None:
            return ""
        if decision == _UNPUBLISHED:
            return '<span class="unpublished-mark"> (not published)</span></span>'
        if link is not None and link.kind == LinkKind.EXTERNAL:
            return (
                '<span class="external-mark" aria-hidden="true">↗</span>'
                '<span class="visually-hidden"> (external site)</span></a>'
            )
        return "</a>"

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        if _LOCAL_PATH.match(src):
            return super().image(tokens, idx, options, env)
        # Only the portal's own images: the CSP would block any other anyway.
        return escapeHtml(self.renderInlineAsText(token.children or [], options, env))

    def table_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        # A wide table scrolls on its own; keyboard users can focus it to scroll.
        return (
            '<div class="table-scroll" tabindex="0" role="region" aria-label="Table">'
            + self.renderToken(tokens, idx, options, env)
        )

    def table_close(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return self.renderToken(tokens, idx, options, env) + "</div>\n"

    def html_block(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return f"<p>{escapeHtml(tokens[idx].content)}</p>\n"

    def html_inline(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return escapeHtml(tokens[idx].content)


# Not an href any link can have (those start with a scheme, "/" or "#").
_UNPUBLISHED = "unpublished"


def _decide(link: Link | None, env: EnvType) -> str | None:
    """The href for a link, _UNPUBLISHED, or None for no link at all."""
    if link is None or link.kind == LinkKind.INVALID:
        return None
    if link.kind == LinkKind.DOCUMENT:
        if link.target_id == env.get("page_id") or link.target_id in env.get("visible", ()):
            return document_url(link.target_id, link.fragment)
        return _UNPUBLISHED
    return link.href


_md = _Markdown("commonmark", {"html": True}, renderer_cls=_Renderer).enable(
    ["table", "strikethrough"]
)

_HEADINGS = {"h2", "h3", "h4", "h5", "h6"}
_cleaner = nh3.Cleaner(
    tags={"p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote", "div"}
    | {"ul", "ol", "li", "a", "span", "img", "table", "thead", "tbody", "tr", "th", "td"}
    | _HEADINGS,
    attributes={
        "a": {"href", "rel", "title"},
        "span": {"aria-hidden"},
        "img": {"src", "alt", "title"},
        "ol": {"start"},
    }
    | {"div": {"tabindex", "role", "aria-label"}}
    | {heading: {"id"} for heading in _HEADINGS},
    allowed_classes={
        "a": {"external"},
        "span": {"external-mark", "visually-hidden", "link-unpublished", "unpublished-mark"},
        "th": {"align-left", "align-center", "align-right"},
        "td": {"align-left", "align-center", "align-right"},
        "div": {"table-scroll"},
    },
    url_schemes=set(ALLOWED_SCHEMES),
    link_rel=None,  # we set rel="noopener noreferrer" on external links ourselves
)


def parse_body(body: str, *, title: str) -> ParsedBody:
    body = body.replace(MARK_START, "").replace(MARK_END, "")
    tokens = _md.parse(body, {})
    tokens = _drop_title_heading(tokens, title)
    parsed = ParsedBody(tokens=tokens)
    lines = body.splitlines()
    _anchor_headings(parsed)
    texts: list[str] = []
    for index, token in enumerate(tokens):
        if token.type == "inline":
            text = _inline_text(token)
            texts.append(text)
            if not parsed.summary and text and tokens[index - 1].type == "paragraph_open":
                parsed.summary = _shorten(text, SUMMARY_LENGTH)
            _collect_links(parsed, token, lines)
        elif token.type in {"fence", "code_block"}:
            texts.append(token.content)
        elif token.type == "html_block":
            texts.append(token.content)
            parsed.raw_html_lines.append(_line(token))
        elif token.type in {"th_open", "td_open"}:
            _align_by_class(token)
    parsed.text = "\n".join(" ".join(text.split()) for text in texts if text.strip())
    return parsed


def render_html(parsed: ParsedBody, *, page_id: str, visible_ids: frozenset[str]) -> str:
    env: dict[str, Any] = {"page_id": page_id, "visible": visible_ids}
    html = _md.renderer.render(parsed.tokens, _md.options, env)
    return _cleaner.clean(html)


def render_markdown(text: str, *, visible_ids: frozenset[str] = frozenset()) -> str:
    """A whole render in one call (for tests and previews)."""
    return render_html(parse_body(text, title=""), page_id="", visible_ids=visible_ids)


def _line(token: Token) -> int:
    return token.map[0] + 1 if token.map else 1


def _drop_title_heading(tokens: list[Token], title: str) -> list[Token]:
    """The page's name is its one h1: a leading ``# Name`` is dropped, other h1s become h2."""
    if (
        len(tokens) >= 3
        and tokens[0].type == "heading_open"
        and tokens[0].tag == "h1"
        and " ".join(_inline_text(tokens[1]).split()).casefold() == title.strip().casefold()
    ):
        tokens = tokens[3:]
    if any(t.type == "heading_open" and t.tag == "h1" for t in tokens):
        for token in tokens:
            if token.type in {"heading_open", "heading_close"}:
                token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    return tokens


def _anchor_headings(parsed: ParsedBody) -> None:
    used: set[str] = set(RESERVED_ANCHORS)
    tokens = parsed.tokens
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        text = " ".join(_inline_text(tokens[index + 1]).split())
        base = slugify(text) or "section"
        if base in RESERVED_ANCHORS:
            base = f"{base}-section"
        anchor, number = base, 2
        while anchor in used:
            anchor, number = f"{base}-{number}", number + 1
        used.add(anchor)
        token.attrSet("id", anchor)
        level = int(token.tag[1])
        if level in TOC_LEVELS:
            parsed.toc.append(TocEntry(level=level, anchor=anchor, text=text))


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in {"text", "code_inline", "html_inline"}:
            parts.append(child.content)
        elif child.type in {"softbreak", "hardbreak"}:
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline_text(child))
    return "".join(parts)


def _collect_links(parsed: ParsedBody, inline: Token, lines: list[str]) -> None:
    start, end = inline.map if inline.map else (0, 1)
    open_links: list[tuple[Token, Link, str]] = []
    texts: list[list[str]] = []
    for child in inline.children or []:
        if child.type == "link_open":
            target = str(child.attrGet("href") or "")
            link = classify_link(target)
            child.meta["link"] = link
            open_links.append((child, link, target))
            texts.append([])
        elif child.type == "link_close" and open_links:
            _, link, target = open_links.pop()
            text = "".join(texts.pop()).strip()
            child.meta["link"] = link
            parsed.links.append(
                LinkUse(
                    link=link, target=target, text=text, line=_find_line(lines, start, end, target)
                )
            )
        elif child.type in {"text", "code_inline"} and texts:
            texts[-1].append(child.content)
        elif child.type == "html_inline":
            parsed.raw_html_lines.append(_find_line(lines, start, end, child.content))


def _find_line(lines: list[str], start: int, end: int, needle: str) -> int:
    for number in range(start, min(end, len(lines))):
        if needle and needle in lines[number]:
            return number + 1
    return start + 1


def _align_by_class(token: Token) -> None:
    # markdown-it aligns table columns with style="text-align:…"; the CSP forbids
    # inline styles, so the alignment becomes a class.
    style = token.attrGet("style")
    if style:
        token.attrs.pop("style", None)
        token.attrSet("class", "align-" + str(style).split(":")[-1].strip())


def _shorten(text: str, length: int) -> str:
    text = " ".join(text.split())
    if len(text) <= length:
        return text
    return text[:length].rsplit(" ", 1)[0].rstrip(",;:") + "…"
