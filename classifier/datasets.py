"""Readers for public labeled comment sets, mapping their labels onto the classifier's.

Each reader yields :class:`LabeledRow` or, for a row it cannot use, :class:`RejectedRow` with
the line and the reason, so an import can report every problem and never stop half-way.
A label the source does not annotate is ``None`` (unknown), not 0: YouTube spam says nothing
about insults, so its rows do not teach the insult head anything.

Mappings (see ../shared/datasets/README.md for the sources):

========  =================================================================================
jigsaw    toxic, severe_toxic, obscene, threat, insult, identity_hate -> the same labels;
          spam 0 (talk-page comments are not adverts)
ethos     isHate >= 0.5 -> identity_attack 1 and toxicity 1; below -> identity_attack 0
youtube   CLASS 1 -> spam 1; CLASS 0 -> spam 0; other labels unknown
davidson  class 0 (hate) -> identity_attack 1, toxicity 1; 1 (offensive) -> toxicity 1;
          2 (neither) -> every label 0
olid      subtask_a OFF -> toxicity 1; NOT -> every label 0
csv       a ``text`` column and any of the label columns (0, 1 or empty for unknown)
jsonl     one object per line: ``{"text": ..., "labels": {"insult": 1, ...}}`` or the
          labels as top-level keys
========  =================================================================================

csv and jsonl rows may also say what the text answered: ``article_title`` and
``parent_text`` (optional columns or keys; empty or absent means unknown).
"""

from __future__ import annotations

import csv
import html
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

from classifier.shared import LABELS

FORMATS = ("jigsaw", "ethos", "youtube", "davidson", "olid", "csv", "jsonl")
MAX_TEXT = 10_000
MAX_TITLE = 500  # as the service stores an article's title
CONTEXT = {"article_title": MAX_TITLE, "parent_text": MAX_TEXT}
Labels = dict[str, int | None]

_TAGS = re.compile(r"<[^>]{0,200}>")
# Public files hold long cells: let the csv module read them.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class LabeledRow:
    line: int
    text: str
    labels: Labels
    article_title: str | None = None
    parent_text: str | None = None


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


Row = LabeledRow | RejectedRow


def read_dataset(path: Path | str, fmt: str) -> Iterator[Row]:
    """Yield the rows of ``path`` read as ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    path = Path(path)
    if fmt == "jsonl":
        yield from _read_jsonl(path)
        return
    delimiter = {"ethos": ";", "olid": "\t"}.get(fmt, ",")
    mapper = _MAPPERS[fmt]
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        missing = _REQUIRED[fmt] - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path.name}: not a {fmt} file (missing columns {sorted(missing)})")
        for record in reader:
            line = reader.line_num
            try:
                text, labels = mapper(record)
            except (KeyError, TypeError, ValueError) as error:
                yield RejectedRow(line, f"unreadable labels ({error})")
                continue
            yield _checked(line, text, labels, record if fmt == "csv" else {})


def _checked(line: int, text: object, labels: Labels,
             record: Mapping[str, object]) -> Row:
    """The row if it can be stored; ``record``'s context fields, if any, go with it."""
    if not isinstance(text, str):
        return RejectedRow(line, "text is missing or not a string")
    text = text.replace("\x00", "").strip()
    if not text:
        return RejectedRow(line, "empty text")
    if len(text) > MAX_TEXT:
        return RejectedRow(line, f"text longer than {MAX_TEXT:,} characters")
    if all(value is None for value in labels.values()):
        return RejectedRow(line, "no known label")
    context = {key: record.get(key) for key in CONTEXT}
    if any(value is not None and not isinstance(value, str) for value in context.values()):
        return RejectedRow(line, "article_title or parent_text is not a string")
    if not all(_encodable(value) for value in (text, *context.values())):
        return RejectedRow(line, "text holds a lone surrogate")
    return LabeledRow(line, text, labels, **{key: _context(context[key], cap)
                                             for key, cap in CONTEXT.items()})


def _context(value: object, cap: int) -> str | None:
    """A context field as the service would keep it: trimmed, without NUL, cut at ``cap``.
    Cut rather than refused: it only informs the label, which is worth keeping."""
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "").strip()[:cap].rstrip() or None


def _encodable(value: object) -> bool:
    """False for a string with a lone surrogate (JSON allows "\\ud800"): neither UTF-8 nor a
    database column can hold it, and one such row must not stop the whole import."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _flag(value: object) -> int | None:
    """0/1 from the many spellings data sets use; None for empty."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    text = str(value).strip().lower()
    if text in ("1", "1.0", "true", "yes"):
        return 1
    if text in ("0", "0.0", "false", "no"):
        return 0
    raise ValueError(f"{value!r} is not 0 or 1")


def _labels(**known: int | None) -> Labels:
    labels: Labels = dict.fromkeys(LABELS)
    labels.update(known)
    return labels


def _jigsaw(record: Mapping[str, str]) -> tuple[str, Labels]:
    return record["comment_text"], _labels(
        toxicity=_flag(record["toxic"]), severe_toxicity=_flag(record["severe_toxic"]),
        obscene=_flag(record["obscene"]), threat=_flag(record["threat"]),
        insult=_flag(record["insult"]), identity_attack=_flag(record["identity_hate"]), spam=0)


def _ethos(record: Mapping[str, str]) -> tuple[str, Labels]:
    share = float(record["isHate"])
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"isHate {share} is not between 0 and 1")
    hate = int(share >= 0.5)
    return record["comment"], _labels(identity_attack=hate, toxicity=1 if hate else None)


def _youtube(record: Mapping[str, str]) -> tuple[str, Labels]:
    text = _TAGS.sub(" ", html.unescape(record["CONTENT"] or ""))
    return text, _labels(spam=_flag(record["CLASS"]))


def _davidson(record: Mapping[str, str]) -> tuple[str, Labels]:
    text = html.unescape(record["tweet"] or "")
    kind = int(record["class"])
    if kind == 0:
        return text, _labels(identity_attack=1, toxicity=1, spam=0)
    if kind == 1:
        return text, _labels(toxicity=1, identity_attack=0, spam=0)
    if kind == 2:
        return text, _labels(**dict.fromkeys(LABELS, 0))
    raise ValueError(f"class {kind} is not 0, 1 or 2")


def _olid(record: Mapping[str, str]) -> tuple[str, Labels]:
    verdict = (record["subtask_a"] or "").strip()
    if verdict == "OFF":
        return record["tweet"], _labels(toxicity=1, spam=0)
    if verdict == "NOT":
        return record["tweet"], _labels(**dict.fromkeys(LABELS, 0))
    raise ValueError(f"subtask_a {verdict!r} is not OFF or NOT")


def _generic(record: Mapping[str, object]) -> tuple[object, Labels]:
    source = record.get("labels", record)
    if not isinstance(source, Mapping):
        raise TypeError("labels must be an object")
    unknown = set(source) - set(LABELS) - ({"text"} if source is record else set())
    if unknown and source is not record:
        raise ValueError(f"unknown labels {sorted(unknown)}")
    return record.get("text"), _labels(**{label: _flag(source.get(label)) for label in LABELS})


def _read_jsonl(path: Path) -> Iterator[Row]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise TypeError("each line must be a JSON object")
                text, labels = _generic(record)
            except (json.JSONDecodeError, RecursionError) as error:
                yield RejectedRow(line, f"not valid JSON ({str(error)[:80]})")
                continue
            except (KeyError, TypeError, ValueError) as error:
                yield RejectedRow(line, f"unreadable labels ({error})")
                continue
            yield _checked(line, text, labels, record)


_MAPPERS: dict[str, Callable[[Mapping[str, str]], tuple[object, Labels]]] = {
    "jigsaw": _jigsaw, "ethos": _ethos, "youtube": _youtube, "davidson": _davidson,
    "olid": _olid, "csv": _generic,
}
_REQUIRED = {
    "jigsaw": {"comment_text", "toxic", "severe_toxic", "obscene", "threat", "insult",
               "identity_hate"},
    "ethos": {"comment", "isHate"},
    "youtube": {"CONTENT", "CLASS"},
    "davidson": {"tweet", "class"},
    "olid": {"tweet", "subtask_a"},
    "csv": {"text"},
}


def to_corpus_rows(rows: Iterator[Row]) -> tuple[list[str], list[list[int]]]:
    """Texts and a -1/0/1 label matrix from the accepted rows (for benchmarks)."""
    texts, matrix = [], []
    for row in rows:
        if isinstance(row, LabeledRow):
            texts.append(row.text)
            matrix.append([-1 if (value := row.labels[label]) is None else value
                           for label in LABELS])
    return texts, matrix
