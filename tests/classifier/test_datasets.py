"""Each public format's label mapping, on small files written here."""

import pytest

from classifier.datasets import LabeledRow, RejectedRow, read_dataset


def rows(tmp_path, name, content, fmt):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return list(read_dataset(path, fmt))


def test_ethos_hate_share_maps_to_identity_attack(tmp_path):
    hate, fine, bad = rows(tmp_path, "e.csv", "comment;isHate\nThey are all vermin;0.8\n"
                           "Nice video;0.1\nBroken;lots\n", "ethos")
    assert (hate.labels["identity_attack"], hate.labels["toxicity"]) == (1, 1)
    assert (fine.labels["identity_attack"], fine.labels["toxicity"]) == (0, None)
    assert isinstance(bad, RejectedRow) and bad.line == 4


def test_davidson_classes_and_html_entities(tmp_path):
    hate, offensive, neither = rows(tmp_path, "d.csv", ",count,hate_speech,offensive_language,neither,class,tweet\n"
                                    "0,3,3,0,0,0,awful &amp; hateful\n1,3,0,3,0,1,rude\n2,3,0,0,3,2,hello\n",
                                    "davidson")
    assert hate.text == "awful & hateful"
    assert (hate.labels["identity_attack"], offensive.labels["toxicity"],
            offensive.labels["insult"]) == (1, 1, None)
    assert set(neither.labels.values()) == {0}


def test_olid_offensive_and_not(tmp_path):
    off, clean = rows(tmp_path, "o.tsv", "id\ttweet\tsubtask_a\tsubtask_b\tsubtask_c\n"
                      "1\t@USER you clown\tOFF\tTIN\tIND\n2\t@USER lovely day\tNOT\tNULL\tNULL\n", "olid")
    assert off.labels["toxicity"] == 1 and off.labels["obscene"] is None
    assert set(clean.labels.values()) == {0}


def test_an_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown format"):
        rows(tmp_path, "x.csv", "text\nhi\n", "tweets")


def test_overlong_texts_are_rejected_with_a_reason(tmp_path):
    (row,) = rows(tmp_path, "l.jsonl", '{"text": "' + "x" * 10_001 + '", "insult": 0}\n', "jsonl")
    assert isinstance(row, RejectedRow) and "longer than" in row.reason
    (ok,) = rows(tmp_path, "s.jsonl", '{"text": "fine", "insult": 0}\n', "jsonl")
    assert isinstance(ok, LabeledRow) and ok.labels["insult"] == 0 and ok.labels["spam"] is None


def test_csv_and_jsonl_rows_carry_their_context_when_given(tmp_path):
    plain, titled = rows(tmp_path, "c.csv", "text,insult,article_title,parent_text\n"
                         "hi,0,,\n"
                         f'you clown,1,"  Budget\x00 day ","{"p" * 10_050}"\n', "csv")
    assert (plain.article_title, plain.parent_text) == (None, None)
    assert titled.article_title == "Budget day" and titled.parent_text == "p" * 10_000
    (jigsaw,) = rows(tmp_path, "j.csv", "comment_text,toxic,severe_toxic,obscene,threat,"
                     "insult,identity_hate,parent_text\nhey,0,0,0,0,0,0,ignored\n", "jigsaw")
    assert jigsaw.parent_text is None  # only csv and jsonl say what a text answered
    nested, top, bad, *surrogates = rows(
        tmp_path, "c.jsonl",
        '{"text": "a", "labels": {"spam": 0}, "article_title": "' + "t" * 600 + '"}\n'
        '{"text": "b", "spam": 0, "parent_text": "why?"}\n'
        '{"text": "c", "spam": 0, "parent_text": 7}\n'
        '{"text": "d", "spam": 0, "parent_text": "bad \\ud800"}\n'
        '{"text": "bad \\udfff", "spam": 0}\n', "jsonl")
    assert (nested.article_title, nested.parent_text) == ("t" * 500, None)
    assert (top.article_title, top.parent_text, top.labels["spam"]) == (None, "why?", 0)
    assert isinstance(bad, RejectedRow) and "not a string" in bad.reason
    # No database can store a lone surrogate: the row is refused, the import goes on.
    assert [(row.line, "surrogate" in row.reason) for row in surrogates] == [(4, True), (5, True)]
