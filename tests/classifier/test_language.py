import pytest

from classifier.language import detect_language


@pytest.mark.parametrize("text, code", [
    ("Thanks for the thorough report on the council budget.", "en"),
    ("Gracias por la explicación, ha sido muy útil para mi barrio.", "es"),
    ("Merci pour cet article très intéressant sur la mairie.", "fr"),
])
def test_clear_languages_are_identified_reliably(text, code):
    assert detect_language(text) == (code, True)


@pytest.mark.parametrize("text", ["ok", "", "\x00\x01", "lone \ud800 surrogate", "🤡🤡"])
def test_short_or_odd_text_is_undetermined_not_an_error(text):
    code, reliable = detect_language(text)
    assert reliable is False
    assert code == "und" or len(code) == 2
