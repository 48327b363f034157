"""Which language a comment is written in, offline (CLD2, from the pycld2 package).

The classifier learned English: its scores mean little for other languages, so the service
sends a comment in another language to review instead of approving it on a low score.
"""

from __future__ import annotations

import pycld2

TRAINED_LANGUAGES = frozenset({"en"})
UNDETERMINED = "und"


def detect_language(text: str) -> tuple[str, bool]:
    """The ISO 639-1 code of ``text``'s main language (``und`` when CLD2 cannot tell) and
    whether CLD2 considers the guess reliable (it is not for a word or two)."""
    try:
        reliable, _, details = pycld2.detect(text)
    except (pycld2.error, UnicodeError, ValueError):  # control characters, lone surrogates
        return UNDETERMINED, False
    code = details[0][1]
    return (UNDETERMINED if code in ("un", "xxx") else code), bool(reliable)
