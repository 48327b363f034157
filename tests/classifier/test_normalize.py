import importlib
import random

import pytest

from classifier.normalize import normalize

# The module, not the function of the same name that `classifier` exports.
normalize_module = importlib.import_module("classifier.normalize")


@pytest.mark.parametrize("disguised, plain", [
    ("1d10t", "idiot"),
    ("m0r0n", "moron"),
    ("a$$hole", "asshole"),
    ("sh1t", "shit"),
    ("@ss", "ass"),
    ("stuuuuupid", "stupid"),
    ("fuuuuck", "fuck"),
    ("f u c k", "fuck"),
    ("i.d.i.o.t", "idiot"),
    ("m-o-r-o-n", "moron"),
    ("ｆｕｃｋ", "fuck"),                 # full-width letters
    ("f\u200buck", "fuck"),              # zero-width space inside the word
    ("id\u00adiot", "idiot"),            # soft hyphen
    ("\u0456di\u043et", "idiot"),        # Cyrillic i and o
    ("MoRoN", "moron"),
    ("ïdïöt", "idiot"),
    ("&#102;&#117;&#99;&#107;", "fuck"),  # HTML character references, decimal
    ("&#x69;d&#x69;ot", "idiot"),         # and hexadecimal
    ("f&#8203;uck", "fuck"),             # a zero-width space written as one
    ("&lt;3 &amp;", "<3 &"),             # and named ones
    ("Don\u2019t", "don't"),              # a typographic apostrophe, as phones type it
    ("\u201cidiot\u201d", '"idiot"'),      # and typographic quotes
])
def test_disguised_words_normalise_to_their_plain_form(disguised, plain):
    assert normalize(disguised) == plain


@pytest.mark.parametrize("text, expected", [
    ("In 2024 we had 35 cases", "in 2024 we had 35 cases"),
    ("Tickets cost $90 each", "tickets cost xxmoney each"),
    ("Killer feature!", "killer feature!"),
    ("Scunthorpe United", "scunthorpe united"),
    ("As of 2008-03-04 it was gone", "as of 2008-03-04 it was gone"),  # dates, counts and
    ("over 8.882.667 views", "over 8.882.667 views"),                  # decimals are not
    ("on 12.05.2023 at the council", "on 12.05.2023 at the council"),  # phone numbers
    ("pi is 3.14159265", "pi is 3.14159265"),
    ("a 3 month ban", "a 3 month ban"),  # a letter beside a number is not spaced out
    ("top 5 a day", "top 5 a day"),
    # "&" inside a word is no character reference unless one is spelled out in full.
    ("AT&T me&nothing best&regards &copyright R&eacute", "at&t me&nothing best&regards &copyright r&eacute"),
])
def test_ordinary_text_keeps_its_words_and_numbers(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("text, marker", [
    ("visit https://quickcash247.biz/offer now", "xxurl"),
    ("go to www.cheap-pills.example", "xxurl"),
    ("quickcash247 dot biz", "xxurl"),
    ("mail me at jo.smith@example.org", "xxemail"),
    ("call +44 7700 900123 today", "xxphone"),
    ("WhatsApp (555) 010-4477", "xxphone"),
    ("call 555.010.2233 now", "xxphone"),
    ("I made $8,400 in two weeks", "xxmoney"),
    ("edited from 97.89.98.145 (talk)", "xxip"),
])
def test_contact_details_and_money_become_markers(text, marker):
    assert marker in normalize(text).split()


@pytest.mark.parametrize("text, expected", [
    # A citation and a shop are told apart by the site's name, not by "a link" alone.
    ("Just one example https://en.wikipedia.org/wiki/Tanki_Online", "just one example xxurl wikipedia"),
    ("see bbc.co.uk/news/uk-123 for the figures", "see xxurl bbc for the figures"),
    ("visit https://quickcash247.biz/offer now", "visit xxurl quickcash now"),
    ("HTTPS://WWW.EXAMPLE.COM", "xxurl example"),
    # Longer than a word may be: still the site's name.
    ("https://www.ons.gov.uk/economy/inflationandpriceindices/bulletins/2026", "xxurl ons"),
    # Abbreviations are no links.
    ("e.g. this, i.e. that, at 5 a.m.", "e.g. this, i.e. that, at 5 a.m."),
    # Punctuation around a link, and endings of every kind, are not the name.
    ("(https://en.wikipedia.org)", "( xxurl wikipedia"),
    ("https://www.bbc.co.uk,", "xxurl bbc"),
    ("https://quickcash.win and https://example.nl", "xxurl quickcash and xxurl example"),
    # A shop cannot pass for an encyclopedia: neither by "user@" in front of its host, nor
    # by padding the host past the part of a word that is read.
    ("https://wikipedia.org:x@quickcash.biz/offer", "xxurl quickcash"),
    ("https://en.wikipedia.org.www.www.www.www.quickcash.biz/buy", "xxurl"),
])
def test_a_link_is_marked_with_its_sites_name(text, expected):
    assert normalize(text) == expected


def test_a_mention_is_not_read_as_leetspeak():
    assert normalize("@editor_desk thanks") == "@editor_desk thanks"


@pytest.mark.parametrize("text, expected", [
    ("f u c k you", [["fuck", "you"]]),
    ("hello\nf u c k you", [["hello"], ["fuck", "you"]]),
    ("ok s h i t", [["ok", "shit"]]),
    ("Great piece. You are a 1d10t!! Bye", [["great", "piece."], ["you", "are", "a", "idiot!!"],
                                            ["bye"]]),
    ("call 555 010 2233 now", [["call", "xxphone", "now"]]),
    ("visit cash dot biz now", [["visit", "xxurl", "now"]]),
    ("in 2024 and 2025 we had 12", [["in", "2024", "and", "2025", "we", "had", "12"]]),
    ("\n\n", []),
    ("hello world… you are a liar", [["hello", "world..."], ["you", "are", "a", "liar"]]),
    ("Great piece！ You are bad", [["great", "piece!"], ["you", "are", "bad"]]),
    ("hello\tf u", [["hello", "fu"]]),                       # after a tab
    ("ok\u00a0u r", [["ok", "ur"]]),                          # after a no-break space
    ("call 555 ０１０ ２２３３ now", [["call", "xxphone", "now"]]),  # full-width digits
    ("wow&#33; you idiot", [["wow!"], ["you", "idiot"]]),    # an end mark written as a reference
    ("AT&T and rock&roll", [["at&t", "and", "rock&roll"]]),  # no reference: as written
])
def test_sentences_split_at_line_breaks_and_end_marks_after_the_fixes_across_words(text, expected):
    assert normalize_module.normalized_sentences(text) == expected


def test_the_word_cache_is_bounded(monkeypatch):
    words = " ".join(f"w{i}" for i in range(1000))
    unbounded = normalize(words)
    monkeypatch.setattr(normalize_module, "_WORDS_LIMIT", 100)
    normalize_module.clear_word_cache()
    # The cache starts over in the middle of the text: every word is still normalised.
    assert normalize(words) == unbounded
    assert len(normalize_module._WORDS) <= 100


@pytest.mark.parametrize("word", [
    "Hello", "hello,", "(hello)", '"Quoted."', "WOW!!!", "sooooo", "Lord's", "anti-Muslim",
    "let\u2019s", "==Section==", ":reply", "*Oppose", "ok?!", "www", "www..", "(www.", "a-b-c",
    "x-ray", "e-mail", "i.d.i.o.t", "sh!t", "!idiot", "a$$", "@ss", "site.com.", "ab'c",
    "don't!", "A" * 45, "aaaa-bbbb", "Ab-c", "'''bold'''", "[[link]]", "that's", "I'm",
    "don\u2019t", "f-u", "a-b", "o'o'o", "it's.", "--", ":::", "!!!", "@", "|", "$$", "_",
    "(),", "-" * 45,
])
def test_plain_words_take_a_short_path_to_the_same_result(word):
    assert normalize_module._normalize_word(word) == normalize_module.normalize_in_full(word)


def test_normalising_many_words_at_once_matches_one_at_a_time():
    words = ["Hello", "sooooo", "www", "awww!", "WWW.site.com", "1d10t", "ｆｕｃｋ", "a$$",
             "anti-Muslim", "f\u200buck", "x" * 60, "don't", "idiot!!!", "(dot)", "555-0102",
             "--", "I'm"]
    plain, forms, others = normalize_module.split_plain_words(words)
    assert sorted(plain + others) == sorted(words)
    found = dict(zip(plain, zip(forms)))
    found.update(zip(others, map(normalize_module.normalize_in_full, others)))
    assert [found[word] for word in words] == [
        normalize_module.normalize_in_full(word) for word in words]
    assert normalize_module.split_plain_words([]) == ([], [], [])


@pytest.mark.parametrize("word, kind", [
    ("dot", normalize_module.SPELLED_DOT), ("[dot]", normalize_module.SPELLED_DOT),
    ("555", normalize_module.PHONE_PIECE), ("+44", normalize_module.PHONE_PIECE),
    ("(0)7700", normalize_module.PHONE_PIECE), ("xxphone", normalize_module.PHONE_PIECE),
    ("xbox", 0), ("2nd", 0), ("hello", 0), ("dots", 0),
])
def test_words_that_may_join_their_neighbours(word, kind):
    assert dict(normalize_module.join_kinds([word])).get(0, 0) == kind


def test_join_kinds_of_many_words_match_one_at_a_time():
    words = ["dot", "[dot]", "555", "+44", "(0)7700", "xxphone", "xbox", "2nd", "hello",
             "dots", "", "5-", "(", "+", "x", "d", "12.50", "(dot)"]
    kinds = normalize_module.join_kinds(words)
    assert len(kinds) == len(dict(kinds)) == 9  # each word once
    one_at_a_time = {i: dict(normalize_module.join_kinds([word])).get(0, 0)
                     for i, word in enumerate(words)}
    assert dict(kinds) == {i: kind for i, kind in one_at_a_time.items() if kind}


@pytest.mark.parametrize("text, spaced", [
    ("f u c k you", True), ("you are a b c", True), ("y o u\nare", True), ("x y", True),
    ("you\tf u c k", True), ("a dog", False), ("I am here", False), ("", False),
])
def test_spaced_out_letters_are_found_anywhere(text, spaced):
    assert normalize_module.has_spaced_out_letters(text) is spaced


def test_texts_that_may_have_spaced_out_letters_are_found_in_a_batch_text_by_text():
    texts = ["the end is a", "b c", "a dog", "x y", "you\u00a0f u c k", "", "fine\nf u c k",
             "nothing here", "^ ^ ^", "a", "1 2 3 4 5", "one\u00a0tab"]
    found = normalize_module.texts_that_may_have_spaced_out_letters(texts)
    # "a" then "b c" do not run together, and each text's start counts as one.
    assert [i for i in found if normalize_module.has_spaced_out_letters(texts[i])] == [
        i for i, text in enumerate(texts) if normalize_module.has_spaced_out_letters(text)
    ] == [1, 3, 4, 6, 10]
    # The others found are left as they are.
    assert all(normalize_module.close_up_spaced_letters(texts[i]) == texts[i] for i in found
               if not normalize_module.has_spaced_out_letters(texts[i]))
    assert normalize_module.texts_that_may_have_spaced_out_letters([]) == []


@pytest.mark.parametrize("text, closed", [
    ("f u c k you", "fuck you"), ("you\tf u c k", "you\tfuck"), ("ok\u00a0x y\nfine", "ok\u00a0xy\nfine"),
    ("first line\ny o u  a r e\nlast a b c", "first line\nyou  are\nlast abc"),
    ("a 3 month ban", "a 3 month ban"), ("u r", "ur"), ("\n\nf u c k\n", "\n\nfuck\n"),
])
def test_spaced_out_letters_are_closed_up_on_their_lines(text, closed):
    assert normalize_module.close_up_spaced_letters(text) == closed


def test_closing_up_only_hinted_lines_equals_the_pattern_over_the_whole_text():
    # The pattern is searched for only on lines that hold a hint: random strings of single
    # characters, words and every kind of white space find no line it would change unseen.
    rng = random.Random(7)
    pieces = list("ab1 2\n\t\u00a0\u2028\r\x0b\u3000@$!*#|.xé") + ["ab", "cd", "  "]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
             for _ in range(20_000)]
    # Long ones too: a hint on many lines, and hints everywhere (closed up in one pass).
    texts += [("word " * 20 + "a b\n") * 60, "x y " * 5000, "x y\n" * 5000, "x\ty " * 5000,
              "".join(rng.choice(pieces) for _ in range(20_000))]
    for text in texts:
        expected = normalize_module._SPACED_OUT.sub(normalize_module._close_up, text)
        assert normalize_module.close_up_spaced_letters(text) == expected, repr(text[:80])
