"""Reading files: front matter validated, every problem with its file, line and field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from portal.content.build import build_site
from portal.content.loader import Severity, fingerprint, load_directory, parse_document

from .factories import SEED_ID, copy_seed, page_text, write_page


def test_the_seed_record_is_valid(tmp_path: Path) -> None:
    copy_seed(tmp_path)
    documents, problems = load_directory(tmp_path)
    assert [p for p in problems if p.severity == Severity.ERROR] == []
    (document,) = documents
    front = document.front
    assert front.id == SEED_ID
    assert front.name == "Customer Portal"
    assert front.status == "production"
    assert front.last_updated == date(2026, 1, 15)
    assert front.next_review == date(2027, 1, 15)
    assert front.is_public
    assert front.archimate is not None and front.archimate.criticality == "high"
    assert front.lifecycle_phase == "operate"
    assert [r.target for r in front.relationships][-1] == "glossary-customer"
    assert document.body.startswith("# Customer Portal\n")
    assert document.body_line == 36


def test_missing_and_wrong_fields_are_named_with_their_lines() -> None:
    text = (
        "---\n"  # 1
        "id: Bad Id\n"  # 2
        "name: Something\n"  # 3
        "status: published\n"  # 4
        "version: 2.1\n"  # 5
        "last_updated: 'yesterday'\n"  # 6
        "relationships:\n"  # 7
        "  - type: association\n"  # 8
        "    target: ok-target\n"  # 9
        "  - type: association\n"  # 10
        "    target: Not OK\n"  # 11
        "tag: [public]\n"  # 12
        "---\n"
        "Body\n"
    )
    document, problems = parse_document(text, "bad.md")
    assert document is None
    lines = {str(p).split(": ", 2)[2].split(":")[0]: p.line for p in problems}
    assert all(p.severity == Severity.ERROR and p.path == "bad.md" for p in problems)
    assert lines == {
        "id": 2,
        "owner": 2,  # missing: the start of the front matter
        "status": 4,
        "version": 5,
        "last_updated": 6,
        "relationships[1].target": 11,
        "tag": 12,
    }
    messages = "\n".join(str(p) for p in problems)
    assert "bad.md:2: error: owner: is required" in messages
    assert "bad.md:4: error: status: Input should be 'draft', 'review', 'production'" in messages
    assert "quote the value" in messages  # version: 2.1 is a number in YAML
    assert "bad.md:12: error: tag: is not a known field" in messages
    assert "'Not OK' is not a valid id" in messages


def test_files_without_front_matter_or_with_broken_yaml_are_reported() -> None:
    assert str(parse_document("# Just Markdown\n", "a.md")[1][0]) == (
        "a.md:1: error: no front matter: the file must start with a line '---'"
    )
    assert "not closed" in str(parse_document("---\nid: x\n", "b.md")[1][0])
    (problem,) = parse_document("---\nid: x\nname: [unclosed\nowner: y\n---\n", "c.md")[1]
    assert problem.path == "c.md" and problem.line == 4
    assert "not valid YAML" in problem.message
    assert "must be a mapping" in str(parse_document("---\n- a\n---\n", "d.md")[1][0])


def test_reserved_ids_are_refused() -> None:
    _, problems = parse_document(page_text("search"), "search.md")
    assert "reserved" in str(problems[0])


def test_a_duplicate_id_skips_the_later_file(tmp_path: Path) -> None:
    write_page(tmp_path, "about")
    (tmp_path / "zz-copy.md").write_text(page_text("about", name="Copy"))
    documents, problems = load_directory(tmp_path)
    assert [d.path for d in documents] == ["about.md"]
    (duplicate,) = [p for p in problems if p.severity == Severity.ERROR]
    assert str(duplicate) == (
        "zz-copy.md:2: error: id: 'about' is already used by about.md; this file is skipped"
    )


def test_one_broken_file_does_not_stop_the_others(tmp_path: Path) -> None:
    write_page(tmp_path, "good")
    (tmp_path / "broken.md").write_text(page_text("broken").replace("owner: Test Team\n", ""))
    (tmp_path / "not-utf8.md").write_bytes(b"---\nid: x\n---\n\xff\xfe")
    documents, problems = load_directory(tmp_path)
    assert [d.front.id for d in documents] == ["good"]
    assert {(p.path, p.severity) for p in problems} == {
        ("broken.md", Severity.ERROR),
        ("not-utf8.md", Severity.ERROR),
    }


def test_hidden_and_underscore_files_are_left_out(tmp_path: Path) -> None:
    write_page(tmp_path, "shown")
    (tmp_path / "_drafts").mkdir()
    write_page(tmp_path / "_drafts", "draft")
    (tmp_path / ".hidden.md").write_text("not content")
    (tmp_path / "notes.txt").write_text("not content")
    (tmp_path / "sub").mkdir()
    write_page(tmp_path / "sub", "nested")
    documents, problems = load_directory(tmp_path)
    assert [d.path for d in documents] == ["shown.md", "sub/nested.md"]
    assert problems == []


def test_cross_document_problems_are_warnings(tmp_path: Path) -> None:
    write_page(
        tmp_path,
        "page",
        relationships=[{"type": "association", "target": "nowhere", "description": "x"}],
        body="Go [there](missing-page) or [here](<Not An Id>).\n\n<b>raw</b> <i>x</i>\n",
        next_review="2020-01-01",
    )
    (tmp_path / "other-name.md").write_text(page_text("different-id"))
    site = build_site(tmp_path, today=date(2026, 6, 1))
    assert site.errors == []
    assert [str(p) for p in site.warnings] == [
        "other-name.md:2: warning: id: the file name does not match the id 'different-id'; "
        "name it different-id.md so it is easy to find",
        "page.md:9: warning: next_review: the review was due on 2020-01-01",
        "page.md:12: warning: relationships: no document has the id 'nowhere'; "
        "it is listed as not published",
        "page.md:24: warning: link [here]: 'Not%20An%20Id' is not a document id, a web address "
        "or an e-mail address; it is shown as text",
        "page.md:24: warning: link [there]: no document has the id 'missing-page'; "
        "it is shown as not published",
        "page.md:26: warning: raw HTML is shown as text, not as HTML; write it in Markdown instead",
    ]


def test_a_public_page_linking_to_a_page_for_signed_in_users_is_warned_about(
    tmp_path: Path,
) -> None:
    write_page(tmp_path, "public-page", body="See [members](members-page).\n")
    write_page(tmp_path, "members-page", tags=["help"])
    write_page(tmp_path, "draft-page", status="draft", body="See [public](public-page).\n")
    site = build_site(tmp_path, today=date(2026, 6, 1))
    assert [(p.path, "not visible to everyone" in p.message) for p in site.warnings] == [
        ("public-page.md", True)
    ]


def test_the_fingerprint_changes_when_a_file_changes(tmp_path: Path) -> None:
    path = write_page(tmp_path, "page")
    before = fingerprint(tmp_path)
    assert fingerprint(tmp_path) == before
    path.write_text(page_text("page", body="Changed, and longer than before.\n"))
    assert fingerprint(tmp_path) != before
    after_edit = fingerprint(tmp_path)
    path.unlink()
    assert fingerprint(tmp_path) not in {before, after_edit}
