"""Text normalisation that undoes the usual tricks for slipping abuse past a filter.

Readers who want to get abuse published write ``1d10t``, ``f u c k``, ``stuuupid``,
``ｆｕｃｋ`` or hide Cyrillic look-alikes and zero-width characters inside words. The
classifier sees every text through :func:`normalize`, at training and at scoring time, so an
obfuscated variant lands on the same features as its plain form.

Links, e-mail addresses, phone numbers and money amounts are replaced by marker tokens
(``xxurl``, ``xxemail``, ``xxphone``, ``xxmoney``): what matters for spam is that a comment
carries one, not which one.
"""

from __future__ import annotations

import re
import unicodedata

# Characters that render as nothing (or nearly) and are used to split words invisibly.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e"
             "\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066"
             "\u2067\u2068\u2069\u3164\ufeff\uffa0"),
    None,
)

# Cyrillic and Greek letters that look like Latin ones. NFKC does not fold these.
_CONFUSABLES = str.maketrans(
    "аеорсуххіјѕԁһԛԝвкмнтАВЕКМНОРСТУХІЈЅ"
    "αβεικνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxxijsdhqwbkmhtABEKMHOPCTYXIJS"
    "abeikvoptuxABEZHIKMNOPTYX",
)

# Digits and symbols read as letters, applied only inside tokens that also hold letters,
# so that "2024" and "$90" keep their meaning while "1d10t" and "a$$" lose their disguise.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                       "8": "b", "9": "g", "@": "a", "$": "s", "!": "i", "|": "l", "€": "e"})
_LEET_TOKEN = re.compile(r"[\w@$!|€]*[a-z][\w@$!|€]*|[\w@$!|€]*[@$!|€][a-z][\w@$!|€]*")
_HAS_LETTER = re.compile(r"[a-z]")

_URL = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b[a-z0-9][a-z0-9-]{1,62}(?:\.|\s*\(?\bdot\b\)?\s*)"
    r"(?:com|net|org|biz|info|io|co|xyz|ru|top|site|online|shop|club|ly|me|tk|us|uk|in)\b(?:/\S*)?",
)
_EMAIL = re.compile(r"\b[\w.+-]+\s*(?:@|\(at\)|\[at\])\s*[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<![\w$£€])\+?\(?\d[\d\s().-]{6,}\d(?![\d%])")
_MONEY = re.compile(r"[$£€₹]\s?\d[\d,.]*\s?[kKmM]?|\b\d[\d,.]*\s?(?:usd|dollars|bucks|btc|eth)\b")

# Three or more single letters separated by spaces, dots, dashes or stars: "f u c k",
# "i.d.i.o.t", "m-o-r-o-n". The separators go; the letters close up into one word.
_SPACED_LETTERS = re.compile(r"(?<![\w*])(?:[a-z][ .\-_*]{1,3}){2,}[a-z](?![\w*])")
_SPACED_SEPARATORS = re.compile(r"[ .\-_*]+")

# A letter repeated three or more times ("stuuupid", "fuuuck") collapses to one.
_REPEATS = re.compile(r"([a-z])\1{2,}")
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Return the canonical form of ``text`` that the classifier's features are built on.

    >>> normalize("Y O U  are a 1d10t!!! ｆｕｃｋ")
    'youareanidiot!!! fuck'
    """
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = text.translate(_CONFUSABLES)
    text = _strip_accents(text).lower()
    text = _URL.sub(" xxurl ", _EMAIL.sub(" xxemail ", text))
    text = _MONEY.sub(" xxmoney ", text)
    text = _PHONE.sub(" xxphone ", text)
    text = _LEET_TOKEN.sub(_unleet, text)
    text = _SPACED_LETTERS.sub(lambda m: _SPACED_SEPARATORS.sub("", m.group()), text)
    text = _REPEATS.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def _strip_accents(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _unleet(match: re.Match[str]) -> str:
    token = match.group()
    # "@handle" is a mention; "@ss" is a disguise.
    is_mention = token.startswith("@") and len(token) > 4
    if is_mention or token.startswith("xx") or not _HAS_LETTER.search(token):
        return token
    # Trailing "!" is punctuation, not a letter: "idiot!!!" keeps its exclamation marks.
    core = token.rstrip("!")
    return core.translate(_LEET) + token[len(core):]
