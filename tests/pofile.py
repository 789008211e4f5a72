"""Just enough of the gettext file formats to check the committed catalogues.

A reader for ``.po`` files (what translators edit) and one for ``.mo`` files
(what Django loads), in plain Python, so the checks run on a machine without
GNU gettext and without a third-party package.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f"}
_ESCAPE = re.compile(r"\\(.)")
_KEYWORD = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[(\d+)\])?)\s+"(.*)"\s*$')
_CONTINUATION = re.compile(r'^"(.*)"\s*$')


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)


@dataclass
class PoEntry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    # One string, or one per plural form.
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    # Where the sources use it ("#: path:line" comments).
    references: list[str] = field(default_factory=list)
    line: int = 0

    @property
    def key(self) -> str:
        """The entry's key in a .mo file: context, EOT, then the singular msgid."""
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None

    @property
    def is_fuzzy(self) -> bool:
        return "fuzzy" in self.flags

    @property
    def is_translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr)


def read_po(path: Path) -> list[PoEntry]:
    """The live entries of a .po file (obsolete ``#~`` entries are left out), header first."""
    entries: list[PoEntry] = []
    entry = PoEntry()
    # Where a continuation line goes: ("msgid"|"msgctxt"|"msgid_plural"|"msgstr", index).
    target: tuple[str, int] | None = None
    started = False

    def finish() -> None:
        nonlocal entry, target, started
        if started:
            entries.append(entry)
        entry, target, started = PoEntry(), None, False

    def append(where: tuple[str, int], text: str) -> None:
        name, index = where
        if name == "msgstr":
            while len(entry.msgstr) <= index:
                entry.msgstr.append("")
            entry.msgstr[index] += text
        elif name == "msgid":
            entry.msgid += text
        elif name == "msgctxt":
            entry.msgctxt = (entry.msgctxt or "") + text
        else:
            entry.msgid_plural = (entry.msgid_plural or "") + text

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            continue  # obsolete: gone from the sources, never compiled
        if line.startswith("#"):
            if target is not None and target[0] == "msgstr":
                finish()  # comments open the next entry
            if line.startswith("#,"):
                entry.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
            elif line.startswith("#:"):
                entry.references.extend(line[2:].split())
            continue
        keyword = _KEYWORD.match(line)
        if keyword:
            name, index, text = keyword.group(1), keyword.group(2), keyword.group(3)
            if name in {"msgid", "msgctxt"} and target is not None and target[0] == "msgstr":
                finish()  # an entry without a blank line before it
            if name.startswith("msgstr"):
                where: tuple[str, int] = ("msgstr", int(index) if index else 0)
            else:
                where = (name, 0)
                if name in {"msgid", "msgctxt"} and not started:
                    entry.line = number
            if name == "msgctxt":
                entry.msgctxt = ""
            if name == "msgid_plural":
                entry.msgid_plural = ""
            started = True
            target = where
            append(where, _unescape(text))
            continue
        continuation = _CONTINUATION.match(line)
        if continuation and target is not None:
            append(target, _unescape(continuation.group(1)))
            continue
        raise ValueError(f"{path}:{number}: cannot read {raw!r}")
    finish()
    return entries


def read_mo(path: Path) -> dict[str, list[str]]:
    """A .mo file's catalogue: key (see ``PoEntry.key``) to its translations.

    Plural entries' keys are the singular msgid; their translations are all the forms.
    """
    data = path.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">"
    _, count, originals_at, translations_at = struct.unpack(order + "4I", data[4:20])
    catalogue: dict[str, list[str]] = {}
    for i in range(count):
        length, offset = struct.unpack(order + "2I", data[originals_at + 8 * i :][:8])
        original = data[offset : offset + length].decode("utf-8")
        length, offset = struct.unpack(order + "2I", data[translations_at + 8 * i :][:8])
        translation = data[offset : offset + length].decode("utf-8")
        catalogue[original.split("\x00")[0]] = translation.split("\x00")
    return catalogue
