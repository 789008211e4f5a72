"""Reading content files: front matter split off, parsed, validated; problems with lines.

Pure functions over the file system, no database: ``manage.py content check``
and ``content_sync`` share them. A file with a problem that makes it unusable
is skipped (an error); everything else still loads.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .schema import FrontMatter

FRONT_MATTER_FENCE = "---"


class Severity(StrEnum):
    ERROR = "error"  # the file is skipped
    WARNING = "warning"  # the page is published, but something in it needs attention


@dataclass(frozen=True)
class Problem:
    path: str  # relative to the content directory
    line: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "severity": str(self.severity),
            "message": self.message,
        }


@dataclass(frozen=True)
class Document:
    path: str  # relative to the content directory, with forward slashes
    front: FrontMatter
    body: str
    body_line: int  # line number (1-based) of the body's first line in the file
    field_lines: dict[str, int] = field(default_factory=dict)  # top-level front-matter keys
    relationship_lines: tuple[int, ...] = field(default=())

    @property
    def id_line(self) -> int:
        return self.field_lines.get("id", 1)


def content_files(directory: Path) -> list[Path]:
    """Every ``.md`` file below ``directory``, sorted, except names starting with ``.`` or ``_``."""
    if not directory.is_dir():
        return []
    files = []
    for path in directory.rglob("*.md"):
        parts = path.relative_to(directory).parts
        if any(part.startswith((".", "_")) for part in parts) or not path.is_file():
            continue
        files.append(path)
    return sorted(files)


def fingerprint(directory: Path) -> str:
    """A cheap digest of the files' names, sizes and modification times (no reading)."""
    digest = hashlib.sha256(str(directory).encode())
    for path in content_files(directory):
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(
            f"\0{path.relative_to(directory)}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()
        )
    return digest.hexdigest()


def load_directory(directory: Path) -> tuple[list[Document], list[Problem]]:
    documents: list[Document] = []
    problems: list[Problem] = []
    if not directory.is_dir():
        problems.append(
            Problem(str(directory), 0, Severity.ERROR, "the content directory does not exist")
        )
        return documents, problems
    seen: dict[str, str] = {}
    for path in content_files(directory):
        relative = path.relative_to(directory).as_posix()
        document, file_problems = load_file(path, relative)
        problems.extend(file_problems)
        if document is None:
            continue
        doc_id = document.front.id
        if doc_id in seen:
            problems.append(
                Problem(
                    relative,
                    document.id_line,
                    Severity.ERROR,
                    f"id: {doc_id!r} is already used by {seen[doc_id]}; this file is skipped",
                )
            )
            continue
        seen[doc_id] = relative
        if Path(relative).stem != doc_id:
            problems.append(
                Problem(
                    relative,
                    document.id_line,
                    Severity.WARNING,
                    f"id: the file name does not match the id {doc_id!r}; "
                    f"name it {doc_id}.md so it is easy to find",
                )
            )
        documents.append(document)
    return documents, problems


def load_file(path: Path, relative: str) -> tuple[Document | None, list[Problem]]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        return None, [_error(relative, 1, f"the file is not UTF-8 text ({error.reason})")]
    except OSError as error:
        return None, [_error(relative, 1, f"the file cannot be read ({error.strerror})")]
    return parse_document(text, relative)


def parse_document(text: str, relative: str) -> tuple[Document | None, list[Problem]]:
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].rstrip() != FRONT_MATTER_FENCE:
        return None, [_error(relative, 1, "no front matter: the file must start with a line '---'")]
    end = next(
        (i for i in range(1, len(lines)) if lines[i].rstrip() in (FRONT_MATTER_FENCE, "...")),
        None,
    )
    if end is None:
        return None, [
            _error(relative, 1, "the front matter is not closed: add a line '---' after it")
        ]
    source = "".join(lines[1:end])
    offset = 2  # YAML line 0 is the file's line 2
    try:
        node = yaml.compose(source, Loader=yaml.SafeLoader)
        data = yaml.safe_load(source)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + offset if mark is not None else 1
        reason = getattr(error, "problem", None) or str(error)
        return None, [_error(relative, line, f"front matter is not valid YAML: {reason}")]
    if not isinstance(data, dict):
        return None, [_error(relative, 1, "front matter must be a mapping of fields")]
    try:
        front = FrontMatter.model_validate(data)
    except ValidationError as error:
        problems = [
            _error(
                relative,
                _line_of(node, tuple(detail["loc"]), offset),
                _describe(detail),
            )
            for detail in error.errors()
        ]
        return None, problems
    relationship_lines = tuple(
        _line_of(node, ("relationships", index, "target"), offset)
        for index in range(len(front.relationships))
    )
    document = Document(
        path=relative,
        front=front,
        body="".join(lines[end + 1 :]),
        body_line=end + 2,
        field_lines={str(key): _line_of(node, (str(key),), offset) for key in data},
        relationship_lines=relationship_lines,
    )
    return document, []


def _error(path: str, line: int, message: str) -> Problem:
    return Problem(path, line, Severity.ERROR, message)


def _field_name(loc: Sequence[str | int]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name or "front matter"


def _describe(detail: Any) -> str:
    kind = detail["type"]
    message = str(detail["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        message = "is not a known field (custom data goes under extensions.properties)"
    elif kind == "string_type":
        message += " (quote the value in YAML, e.g. '2.1')"
    return f"{_field_name(detail['loc'])}: {message}"


def _line_of(node: yaml.Node | None, loc: Sequence[str | int], offset: int) -> int:
    """The file line of the YAML node at ``loc``, or of its nearest existing parent."""
    line = 1
    if node is None:
        return line
    line = node.start_mark.line + offset
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line = key.start_mark.line + offset
                    child = value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                child = node.value[part]
                line = child.start_mark.line + offset
        if child is None:
            break
        node = child
    return line


def display_path(directory: Path, relative: str) -> str:
    """``relative`` prefixed with the directory, as short as possible from the working directory."""
    full = directory / relative
    try:
        return os.path.relpath(full)
    except ValueError:  # another drive on Windows
        return str(full)
