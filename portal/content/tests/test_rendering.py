"""Markdown to HTML: the link rules, sanitising, heading anchors, text for search."""

from __future__ import annotations

import re

import pytest

from portal.content.rendering import (
    LinkKind,
    classify_link,
    parse_body,
    render_html,
    render_markdown,
)


def _hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


@pytest.mark.parametrize(
    ("target", "kind", "result"),
    [
        ("www.google.com", LinkKind.EXTERNAL, "https://www.google.com"),
        ("example.org/path?q=1#top", LinkKind.EXTERNAL, "https://example.org/path?q=1#top"),
        ("https://example.org/a", LinkKind.EXTERNAL, "https://example.org/a"),
        ("HTTP://example.org", LinkKind.EXTERNAL, "HTTP://example.org"),
        ("//example.org/x", LinkKind.EXTERNAL, "https://example.org/x"),
        ("mailto:help@example.com", LinkKind.MAIL, "mailto:help@example.com"),
        ("help@example.com", LinkKind.MAIL, "mailto:help@example.com"),
        ("/accounts/profile/", LinkKind.LOCAL, "/accounts/profile/"),
        ("#section", LinkKind.LOCAL, "#section"),
        ("glossary-customer", LinkKind.DOCUMENT, "glossary-customer"),
        ("glossary-customer#role", LinkKind.DOCUMENT, "glossary-customer"),
        ("glossary-customer.md", LinkKind.DOCUMENT, "glossary-customer"),
        ("./glossary-customer.md#role", LinkKind.DOCUMENT, "glossary-customer"),
        ("javascript:alert(1)", LinkKind.INVALID, ""),
        ("JavaScript:alert(1)", LinkKind.INVALID, ""),
        ("data:text/html,<script>alert(1)</script>", LinkKind.INVALID, ""),
        ("vbscript:msgbox", LinkKind.INVALID, ""),
        ("file:///etc/passwd", LinkKind.INVALID, ""),
        ("/\\evil.example", LinkKind.INVALID, ""),
        ("Not An Id", LinkKind.INVALID, ""),
        ("", LinkKind.INVALID, ""),
    ],
)
def test_link_targets_are_classified(target: str, kind: LinkKind, result: str) -> None:
    link = classify_link(target)
    assert link.kind == kind
    assert (link.target_id if kind == LinkKind.DOCUMENT else link.href) == result


def test_a_bare_domain_goes_to_https_not_to_a_relative_path() -> None:
    html = render_markdown("This is [google](www.google.com).")
    assert _hrefs(html) == ["https://www.google.com"]
    assert 'rel="noopener noreferrer"' in html
    assert 'class="external"' in html
    assert "↗" in html  # visible marker
    assert "(external site)" in html  # and for screen readers


def test_a_document_link_goes_to_the_page_when_the_reader_may_see_it() -> None:
    html = render_markdown(
        "See [terms](glossary-customer#role).", visible_ids=frozenset({"glossary-customer"})
    )
    assert _hrefs(html) == ["/pages/glossary-customer/#role"]
    assert "external" not in html


def test_a_document_link_is_marked_not_published_when_missing_or_hidden() -> None:
    html = render_markdown("See [credit risk](ms-policy-015-credit-risk).")
    assert "<a" not in html
    assert '<span class="link-unpublished">credit risk' in html
    assert "(not published)" in html


@pytest.mark.parametrize(
    "markdown",
    [
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[click](&#106;avascript:alert(1))",
        "[click](javascript&colon;alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "<javascript:alert(1)>",
        '[click](<javascript:alert(1)> "title")',
    ],
)
def test_other_schemes_produce_no_link(markdown: str) -> None:
    html = render_markdown(markdown)
    assert "<a" not in html
    assert "href" not in html


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        "Text <script>alert(1)</script> inline",
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src='https://evil.example'></iframe>",
        '<div style="background:url(javascript:alert(1))">x</div>',
        "<svg onload=alert(1)>",
    ],
)
def test_raw_html_is_text_never_markup(markdown: str) -> None:
    html = render_markdown(markdown)
    assert "<script" not in html
    assert "<img" not in html
    assert "<iframe" not in html
    assert "<svg" not in html
    assert "<div" not in html
    assert "onerror=" not in html.replace("onerror=&quot;", "") or "&lt;img" in html
    assert "&lt;" in html  # shown as text, so an author sees the mistake


def test_only_the_portals_own_images_are_shown() -> None:
    html = render_markdown("![logo](/static/logo.png) ![tracker](https://evil.example/t.png)")
    assert '<img src="/static/logo.png" alt="logo">' in html
    assert "evil.example" not in html
    assert "tracker" in html  # the alt text stays


def test_headings_get_anchors_and_a_table_of_contents() -> None:
    parsed = parse_body(
        "# My page\n\nIntro.\n\n## First steps\n\n### Details\n\n## First steps\n\n## Main\n",
        title="My page",
    )
    html = render_html(parsed, page_id="p", visible_ids=frozenset())
    # The leading h1 is the page's own title, shown by the template.
    assert "<h1" not in html
    assert '<h2 id="first-steps">First steps</h2>' in html
    assert '<h3 id="details">Details</h3>' in html
    assert '<h2 id="first-steps-2">First steps</h2>' in html
    # "main" is the page's <main id="main">; a heading must not take it.
    assert '<h2 id="main-section">Main</h2>' in html
    assert [(e.level, e.anchor) for e in parsed.toc] == [
        (2, "first-steps"),
        (3, "details"),
        (2, "first-steps-2"),
        (2, "main-section"),
    ]
    assert parsed.summary == "Intro."


def test_other_h1_headings_are_demoted() -> None:
    html = render_markdown("# One\n\n## Sub\n\n# Two\n")
    assert "<h1" not in html
    assert '<h2 id="one">' in html
    assert '<h3 id="sub">' in html


def test_tables_align_with_classes_not_inline_styles() -> None:
    html = render_markdown("| a | b |\n|--:|:-:|\n| 1 | 2 |\n")
    assert "<table>" in html
    assert "style=" not in html
    assert '<td class="align-right">1</td>' in html
    assert '<th class="align-center">b</th>' in html


def test_plain_text_and_links_are_collected_with_lines() -> None:
    parsed = parse_body(
        "First paragraph with **bold**.\n\n- item [one](page-one)\n- [two](www.example.org)\n",
        title="",
    )
    assert "First paragraph with bold." in parsed.text
    assert [(use.link.kind, use.text, use.line) for use in parsed.links] == [
        (LinkKind.DOCUMENT, "one", 3),
        (LinkKind.EXTERNAL, "two", 4),
    ]


def test_search_markers_cannot_be_smuggled_into_the_text() -> None:
    parsed = parse_body("a \x02b\x03 c", title="")
    assert "\x02" not in parsed.text and "\x03" not in parsed.text
