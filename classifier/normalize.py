"""Text normalisation that undoes the usual tricks for slipping abuse past a filter.

Readers who want to get abuse published write ``1d10t``, ``f u c k``, ``stuuupid``,
``ｆｕｃｋ``, ``&#102;&#117;&#99;&#107;`` or hide Cyrillic look-alikes and zero-width
characters inside words. The classifier sees every text through :func:`normalize`, at
training and at scoring time, so an obfuscated variant lands on the same features as its
plain form.

Links, e-mail addresses, phone numbers, IP addresses and money amounts become marker tokens
(``xxurl``, ``xxemail``, ``xxphone``, ``xxip``, ``xxmoney``): what matters is that a comment
carries one, not which one.

Most of the work is per word and cached, since the same words come back in every comment;
only what spans words (spaced-out letters, "site dot com", phone numbers written in groups)
is handled on the sequence of words. That keeps normalisation off the scoring hot path.
"""

from __future__ import annotations

import html
import html.entities
import operator
import re
import unicodedata
from bisect import bisect_right
from itertools import accumulate, chain, compress, count, islice, repeat

# Characters that render as nothing (or nearly) and are used to split words invisibly.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e"
             "\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066"
             "\u2067\u2068\u2069\u3164\ufeff\uffa0"),
    None,
)

# Cyrillic and Greek letters that look like Latin ones, and typographic quotes (phones type
# "don’t" for "don't"). NFKC does not fold these.
_CONFUSABLES = str.maketrans(
    "аеорсуххіјѕԁһԛԝвкмнтАВЕКМНОРСТУХІЈЅ"
    "αβεικνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"
    "‘’‚‛“”„‟",
    "aeopcyxxijsdhqwbkmhtABEKMHOPCTYXIJS"
    "abeikvoptuxABEZHIKMNOPTYX"
    "''''\"\"\"\"",
)

# Digits and symbols read as letters inside a word that also holds letters, so that "2024"
# and "$90" keep their meaning while "1d10t" and "a$$" lose their disguise.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                       "8": "b", "9": "g", "@": "a", "$": "s", "!": "i", "|": "l", "€": "e"})
_LEET_WORD = re.compile(r"[\w@$!|€]+")
_LEET_CHARS = re.compile(r"[0-9@$!|€]")
_HAS_LETTER = re.compile(r"[a-z]")
_ORDINAL_OR_UNIT = re.compile(r"\d+(?:st|nd|rd|th|s|am|pm|k|m|bn|km|kg|mm|cm|ml|mg|g|x|d|h|p)")

_TLDS = ("com", "net", "org", "biz", "info", "io", "co", "xyz", "ru", "top", "site", "online",
         "shop", "club", "ly", "me", "tk", "us", "uk", "in")
# A link that says it is one (read before e-mail addresses: "https://x@shop.biz" is a link),
# then a bare domain ("bbc.co.uk/news"; after them: "jo@example.org" is an address). The
# second is possessive and anchored on what may not precede a host: linear on any word.
_LINK = re.compile(r"(?:https?://|www\.)\S+")
_BARE_DOMAIN = re.compile(r"(?<![a-z0-9.-])(?:[a-z0-9][a-z0-9-]*+\.)++(?:" + "|".join(_TLDS)
                          + r")(?:\.(?:" + "|".join(_TLDS) + r"))?\b(?:/\S*)?")
_EMAIL = re.compile(r"[\w.+-]++@[\w-]++(?:\.[\w-]++)+")
_NOT_LETTERS = re.compile(r"[^a-z]+")
# The host of a link (after any "user:password@"), and the character that ends it.
_HOST = re.compile(r"(?:https?://)?(?:[^/?#\s@]*+@)?([a-z0-9.-]*+)(.?)")
# Parts of a host name that say nothing about whose site it is.
_NOT_A_NAME = frozenset({"www", "m", "en", "mobile", "amp", "gov", "edu", "ac", "tv", "be",
                         "de", "fr", "eu", "ca", "au", *_TLDS})
_MONEY = re.compile(r"[$£€₹]\d[\d,.]*[km]?|\d[\d,.]*(?:usd|dollars|bucks|btc|eth)\b")
_IP_ADDRESS = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_PHONE = re.compile(r"(?<![\d().-])\+?\(?\d[\d().-]{6,}+(?<=\d)")
# Long numbers that are not phone numbers: dates, counts grouped in thousands, decimals.
_NOT_PHONE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[.-]\d{1,2}[.-]\d{2,4}"
                        r"|\d{1,3}(?:\.\d{3})+|\d+\.\d+")

# No real word is longer; a longer "word" is cut here (after its link, if any, is marked).
MAX_WORD = 40
# A word's normalised form depends on no more than its first this many characters.
LONGEST_WORD = MAX_WORD + 1
_LINK_START = re.compile(r"(?:https?://|www\.)")

# Letters separated by dots, dashes, underscores or stars inside one word: "i.d.i.o.t".
_SEPARATED_LETTERS = re.compile(r"^(?:[a-z][.\-_*]){2,}[a-z][.,!?]*$")
_SEPARATORS = re.compile(r"[.\-_*]")
# A letter repeated three or more times ("stuuupid", "fuuuck") collapses to one.
_REPEATS = re.compile(r"([a-z])\1{2,}")
_PHONE_PIECE = re.compile(r"^\+?\(?\d[\d().-]*$")
# What _join_spans looks for can only come from a digit or the word "dot".
_PHONE_FIRST = frozenset("+(0123456789x")
_DOTS = frozenset({"dot", "(dot)", "[dot]"})
_PHONE_PIECE_FIRST = frozenset("+(0123456789")  # the first characters _PHONE_PIECE allows
SENTENCE_ENDS = (".", "!", "?")
# Single characters separated by single spaces: "f u c k", and in "y o u  a r e" (words
# apart by two spaces) each word on its own. Three or more, or two letters ("u r"): a
# letter beside a number ("a 3 month ban", "top 5 a day") is no disguise.
_SPACED_OUT = re.compile(r"(?<!\S)(?:[\w@$!*#|](?: [\w@$!*#|]){2,}|[^\W\d_] [^\W\d_])(?!\S)")
# Two single characters in a row, after a space or a line break (or at the start): a quick
# test for the above (a pattern that starts with a literal is several times faster to
# search for).
_SPACED_HINT = re.compile(r" [\w@$!*#|] [\w@$!*#|](?!\S)")
_SPACED_HINT_AFTER_BREAK = re.compile(r"\n[\w@$!*#|] [\w@$!*#|](?!\S)")
# More hints than this in one text, and it is closed up in one pass of the full pattern.
_MANY_HINTS = 64
# Between texts searched at once for those hints: a character none of them holds.
_BATCH_SEPARATOR = " ^ "
# Tabs, no-break spaces...: hints, which look for spaces, cannot see them as they are.
_OTHER_WHITESPACE = re.compile(r"[^\S \n]")
# HTML character references: numeric ones, with or without their ";" (as browsers read
# them), and named ones with it ("&amp;"): "&copy" inside "&copyright" is a word.
_CHARACTER_REFERENCE = re.compile(
    r"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)")
_ENDS_IN_REFERENCE = re.compile(
    r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|([A-Za-z][A-Za-z0-9]{1,31}));\Z")
_LONGEST_REFERENCE = 34  # characters: "&", a name of 32, ";"
_ANY_DIGIT = re.compile(r"\d")
# A plain word: ASCII letters (perhaps joined by apostrophes, or by hyphens before two
# letters or more: "f-u-c-k" is not plain), perhaps in quotes or brackets or before
# punctuation; or ASCII punctuation alone. Nothing in the full pipeline changes it but lower
# case, repeated letters and a typographic apostrophe ("www" aside: "www.." is a link), and
# most new words look like this.
_PLAIN_WORD = re.compile(rf"(?=.{{1,{MAX_WORD}}}\Z)"
                         r"(?:[\"'(\[:*=#~-]*[A-Za-z]+(?:['’][A-Za-z]+|-[A-Za-z]{2,})*"
                         r"[.,;:!?\"')\]*=~]*"
                         r"|[!-/:-@\[-`{-~]+)")  # or ASCII punctuation alone ("--", ":::")


def normalize(text: str) -> str:
    """Return the canonical form of ``text`` that the classifier's features are built on.

    >>> normalize("Y O U  are a 1d10t!!! ｆｕｃｋ")
    'you are a idiot!!! fuck'
    """
    return " ".join(normalized_words(text))


def normalized_words(text: str) -> list[str]:
    """The normalised words of ``text``, after the fixes that span several words."""
    return [word for sentence in normalized_sentences(text) for word in sentence]


def normalized_sentences(text: str) -> list[list[str]]:
    """The normalised words of ``text`` grouped in sentences: a line break, or a word that
    ends in ".", "!" or "?", closes one."""
    # What spans words is rare: look for it once in the whole text, not on every line
    # (spelled links and phone numbers in the text as written, before letters close up).
    may_span = _has_digit(text) or "dot" in text.lower()
    text = close_up_spaced_letters(text)
    cached = _WORDS.get
    sentences = []
    for line in text.split("\n") if "\n" in text else (text,):
        raw = line.split()
        found = list(map(cached, raw))
        if None in found:
            for word in compress(raw, map(operator.is_, found, repeat(None))):
                normalize_word(word)
            found = list(map(cached, raw))
            if None in found:  # the cache started over on the way, or a word is long
                found = list(map(normalize_word, raw))
        words = list(chain.from_iterable(found))
        if may_span and len(words) > 2 and _may_join(words):
            words = _join_spans(words)
        if not words:
            continue
        # Only these marks, or characters that normalise to them ("…", "！", "&#33;"),
        # end a sentence: a plain line without them is one sentence.
        if "." in line or "!" in line or "?" in line or "&" in line or not line.isascii():
            start = 0
            for end in compress(count(1), map(str.endswith, words, repeat(SENTENCE_ENDS))):
                sentences.append(words[start:end])
                start = end
            if start < len(words):
                sentences.append(words[start:] if start else words)
        else:
            sentences.append(words)
    return sentences


def has_spaced_out_letters(text: str) -> bool:
    """Whether ``text`` has single characters apart by single spaces ("f u c k"), which
    normalisation closes up.

    Together with :func:`join_kinds`, it says when a text can be normalised word by word:
    a text whose words' normalised forms hold no spelled-out dot and no two phone-number
    pieces next to each other on a line has for ``normalized_sentences`` the
    ``normalize_word`` forms of its white-space words, once its spaced-out letters are
    closed up (:func:`close_up_spaced_letters`, when this says it has some), cut into
    sentences at line breaks and after words that end in ".", "!" or "?" (lines without
    words dropped)."""
    return close_up_spaced_letters(text) != text  # closing up always takes a space out


def texts_that_may_have_spaced_out_letters(texts: list[str]) -> list[int]:
    """The indexes of the texts that may have spaced-out letters: every text that
    ``has_spaced_out_letters``, and a few that do not (``close_up_spaced_letters`` leaves
    those as they are). Found in the batch at once: the hints are searched for in all the
    texts joined, each after a space as it could be at its start and before a character no
    hint holds, so that no hint crosses from one text to the next."""
    batch = _BATCH_SEPARATOR + _BATCH_SEPARATOR.join(texts)
    places = [match.start() + 1 for match in _SPACED_HINT.finditer(batch)]
    if "\n" in batch:
        places += [match.start() + 1 for match in _SPACED_HINT_AFTER_BREAK.finditer(batch)]
    starts = list(accumulate((len(text) + len(_BATCH_SEPARATOR) for text in texts),
                             initial=len(_BATCH_SEPARATOR)))
    candidates = {bisect_right(starts, place) - 1 for place in places}
    # Unusual white space: only in texts that are not printable (a line break is not).
    candidates.update(i for i in compress(count(), map(operator.not_, map(str.isprintable, texts)))
                      if _has_other_whitespace(texts[i]))
    return sorted(candidates)


def close_up_spaced_letters(text: str) -> str:
    """``text`` with its spaced-out letters closed up ("f u c k" becomes "fuck"), as
    ``normalized_sentences`` closes them on each line (they never span a line break).

    Only the lines that hold a hint are searched: every run of spaced-out letters starts
    with one, once other white space reads as a space, and the full pattern costs tens of
    times more per character than a hint (a long comment is thousands of characters)."""
    probe = " " + (_OTHER_WHITESPACE.sub(" ", text) if _has_other_whitespace(text) else text)
    hints = chain(_SPACED_HINT.finditer(probe),
                  _SPACED_HINT_AFTER_BREAK.finditer(probe) if "\n" in text else ())
    places = [match.start() for match in islice(hints, _MANY_HINTS + 1)]
    if not places:
        return text
    if len(places) > _MANY_HINTS:  # hints everywhere (hostile text): one pass costs less
        return _SPACED_OUT.sub(_close_up, text)
    lines = text.split("\n")
    # A hint at ``place`` in the probe starts at ``place`` in the text (the probe's space).
    # Line breaks are counted once along the text, not from its start for every hint:
    # hostile text can hold a hint every few characters.
    hinted, number, done = set(), 0, 0
    for place in sorted(places):
        number += text.count("\n", done, place)
        hinted.add(number)
        done = place
    for number in hinted:
        lines[number] = _SPACED_OUT.sub(_close_up, lines[number])
    return "\n".join(lines)


# How a normalised word may join the words around it (see join_kinds).
PHONE_PIECE, SPELLED_DOT = 1, 2


def join_kinds(words: list[str]) -> list[tuple[int, int]]:
    """``(index, kind)`` of the normalised words that may join the words around them in
    ``normalized_sentences``: ``SPELLED_DOT`` ("site dot com" becomes a link) or
    ``PHONE_PIECE`` (a number, which joins only the phone-number pieces right next to it).
    Found in C-level passes: only words that start as a number are asked one by one."""
    kinds = [(i, SPELLED_DOT) for i in compress(count(), map(_DOTS.__contains__, words))]
    kinds += [(i, PHONE_PIECE) for i in compress(count(), map("xxphone".__eq__, words))]
    initials = map(operator.itemgetter(slice(0, 1)), words)
    kinds += [(i, PHONE_PIECE) for i in compress(count(), map(_PHONE_PIECE_FIRST.__contains__,
                                                            initials))
              if _PHONE_PIECE.match(words[i])]
    return kinds


def _has_other_whitespace(text: str) -> bool:
    """Whether ``text`` holds white space other than spaces and line breaks. White space
    other than the space is not printable (nor are control and format characters, which
    the search then rules out): most texts answer at once."""
    return not (text.isprintable() or text.replace("\n", " ").isprintable()) \
        and _OTHER_WHITESPACE.search(text) is not None


def _has_digit(text: str) -> bool:
    """Whether ``text`` holds a digit, of any script (as ``\\d`` reads them)."""
    if text.isascii():
        return any(digit in text for digit in "0123456789")  # ten scans beat one regex
    return _ANY_DIGIT.search(text) is not None


def _may_join(words: list[str]) -> bool:
    """Whether ``_join_spans`` could change ``words``: a spelled-out dot, or enough digits
    (counted after normalisation, which turns full-width digits into ASCII) for a phone
    number."""
    if not _DOTS.isdisjoint(words) or "xxphone" in words:
        return True
    joined = "".join(words)
    return sum(map(joined.count, "0123456789")) >= 7


def _close_up(match: re.Match[str]) -> str:
    return match.group().replace(" ", "")


# Normalised forms of the white-space words seen so far; dropped whole when full, so that
# hostile input cannot grow it without bound.
_WORDS: dict[str, tuple[str, ...]] = {}
_WORDS_LIMIT = 200_000


def normalize_word(raw: str) -> tuple[str, ...]:
    """Normalise one white-space-delimited word; may yield zero, one or more words
    (cached; a long word under its first ``LONGEST_WORD`` characters, all its form depends
    on, so that hostile input cannot fill memory with long keys)."""
    raw = raw[:LONGEST_WORD]
    words = _WORDS.get(raw)
    if words is None:
        if len(_WORDS) >= _WORDS_LIMIT:
            _WORDS.clear()
        words = _WORDS[raw] = _normalize_word(raw)
    return words


def split_plain_words(words: list[str]) -> tuple[list[str], list[str], list[str]]:
    """The plain words among ``words`` (most of any batch), their normalised forms (one
    each, found all at once), and the other words, for ``normalize_in_full``."""
    # Letters only (most words) need no pattern to know.
    matched = [(word.isalpha() and word.isascii() and len(word) <= MAX_WORD)
               or _PLAIN_WORD.fullmatch(word) for word in words]
    plain = list(compress(words, matched))
    lowered = "\n".join(plain).lower()
    if "www" in lowered:  # "www.." is a link: such words take the full pipeline
        matched = [match and "www" not in word.lower() for word, match in zip(words, matched)]
        plain = list(compress(words, matched))
        lowered = "\n".join(plain).lower()
    if "’" in lowered:  # the one non-ASCII character a plain word may hold ("don’t")
        lowered = lowered.replace("’", "'")
    first = _REPEATS.search(lowered)
    if first:  # rewritten from there on (a batch's words are tens of thousands of characters)
        lowered = lowered[:first.start()] + _REPEATS.sub(r"\1", lowered[first.start():])
    others = list(compress(words, map(operator.not_, matched)))
    return plain, lowered.split("\n") if plain else [], others


def clear_word_cache() -> None:
    """Forget every normalised word (for measuring cold starts)."""
    _WORDS.clear()


def _normalize_word(raw: str) -> tuple[str, ...]:
    plain, forms, _ = split_plain_words([raw])
    return (forms[0],) if plain else normalize_in_full(raw)


def normalize_in_full(raw: str) -> tuple[str, ...]:
    """Every step of the pipeline, for a word that is not plain."""
    if "&" in raw:  # HTML character references: "&#102;&#117;&#99;&#107;", "&amp;"
        raw = _CHARACTER_REFERENCE.sub(_decoded, raw)
    if len(raw) > MAX_WORD:
        if _LINK_START.match(raw.lower()):
            return tuple(_link_marker(raw.lower(), cut=True).split())
        raw = raw[:MAX_WORD]
    if raw.isascii():
        word = raw.lower()
    else:
        word = unicodedata.normalize("NFKC", raw).translate(_INVISIBLE).translate(_CONFUSABLES)
        word = _strip_accents(word).lower()
    if "@" in word or "." in word or "/" in word:
        word = _BARE_DOMAIN.sub(_link_marker,
                                _EMAIL.sub(" xxemail ", _LINK.sub(_link_marker, word)))
    if _ANY_DIGIT.search(word):
        word = _IP_ADDRESS.sub(" xxip ", word)
        word = _PHONE.sub(_phone_marker, _MONEY.sub(" xxmoney ", word))
    if _LEET_CHARS.search(word):
        word = _LEET_WORD.sub(_unleet, word)
    if _SEPARATED_LETTERS.match(word):
        word = _SEPARATORS.sub("", word)
    word = _REPEATS.sub(r"\1", word)
    return tuple(word.split())


def _link_marker(link: re.Match | str, *, cut: bool = False) -> str:
    """``xxurl`` and the name the link's site goes by ("wikipedia" for en.wikipedia.org,
    "bbc" for bbc.co.uk): a reader citing a source and a spammer pushing a shop both post
    links, and ``xxurl`` alone cannot tell them apart. The name is the host's part before
    its ending (whatever the ending); none when the host runs past the end of a word that
    was ``cut`` (padding must not let "wikipedia.org.www.www..." stand for a shop)."""
    text = link if isinstance(link, str) else link.group(0)
    match = _HOST.match(text)
    assert match is not None  # every part of the pattern may be empty
    host, after = match.group(1), match.group(2)
    if cut and not after:
        return " xxurl "
    names = [part for part in host.strip(".").split(".")[:-1] if part and part not in _NOT_A_NAME]
    name = _NOT_LETTERS.sub("", names[-1])[:MAX_WORD] if names else ""
    return f" xxurl {name} "


def _join_spans(words: list[str]) -> list[str]:
    """Close up spelled-out links and phone numbers written in groups."""
    n = len(words)
    # Only a word before "dot" or one that may start a phone number can begin a span.
    starts = [i for i, word in enumerate(words)
              if word[0] in _PHONE_FIRST or (i + 1 < n and words[i + 1] in _DOTS)]
    if not starts:
        return words
    joined: list[str] = []
    done = 0
    for i in starts:
        if i < done:
            continue
        joined += words[done:i]
        done = i + 1
        word = words[i]
        # "quickcash dot biz", "site (dot) com".
        if i + 2 < n and words[i + 1] in _DOTS and words[i + 2].strip(".,!?)") in _TLDS:
            joined.append("xxurl")  # spelled out to hide it: the name says nothing more
            done = i + 3
            continue
        # "555 010 2233", "+44 (0)7700 900123".
        if word[0] in _PHONE_FIRST and (word == "xxphone" or _PHONE_PIECE.match(word)):
            j, digits = i, 0
            while j < n and words[j] and words[j][0] in _PHONE_FIRST and (
                    words[j] == "xxphone" or _PHONE_PIECE.match(words[j])):
                digits += 7 if words[j] == "xxphone" else sum(c.isdigit() for c in words[j])
                j += 1
            if j - i >= 2 and digits >= 7:
                joined.append("xxphone")
                done = j
                continue
        joined.append(word)
    joined += words[done:]
    return joined


def ends_in_character_reference(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` ends with a whole HTML character reference, ";"
    included (looked for within the longest one's length, whatever the span's)."""
    found = _ENDS_IN_REFERENCE.search(text[max(start, end - _LONGEST_REFERENCE):end])
    return found is not None and (found.group(1) is None
                                  or found.group(1) + ";" in html.entities.html5)


def _decoded(match: re.Match[str]) -> str:
    reference = match.group()
    if reference[1] == "#":  # numeric: html's rules for code points no text may hold
        return html.unescape(reference)
    # Named: only a whole name ("&nothing;" is not "&not" and "hing;", as html reads it).
    return html.entities.html5.get(reference[1:], reference)


def _phone_marker(match: re.Match[str]) -> str:
    number = match.group()
    return number if _NOT_PHONE.fullmatch(number) else " xxphone "


def _strip_accents(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _unleet(match: re.Match[str]) -> str:
    token = match.group()
    if not _HAS_LETTER.search(token):
        return token
    # "@handle" is a mention and "4pm", "90s" or "2nd" are numbers; "@ss" is a disguise.
    if (token.startswith("@") and len(token) > 4) or token.startswith("xx") \
            or _ORDINAL_OR_UNIT.fullmatch(token):
        return token
    # Trailing "!" is punctuation, not a letter: "idiot!!!" keeps its exclamation marks.
    core = token.rstrip("!")
    return core.translate(_LEET) + token[len(core):]
