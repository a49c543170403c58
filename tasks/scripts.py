"""Which writing system a text's letters are in, by Unicode block.

Only the scripts of langdetect's languages (and two that name a language on their own) are
told apart; letters of any other script count as OTHER. Kana stands for Hiragana and
Katakana, Hangul for its syllables and jamo.
"""
from __future__ import annotations

from bisect import bisect_right

LATIN, GREEK, CYRILLIC, ARMENIAN, HEBREW, ARABIC = "Latin", "Greek", "Cyrillic", "Armenian", "Hebrew", "Arabic"
DEVANAGARI, BENGALI, GURMUKHI, GUJARATI, TAMIL = "Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Tamil"
TELUGU, KANNADA, MALAYALAM, THAI, GEORGIAN = "Telugu", "Kannada", "Malayalam", "Thai", "Georgian"
HANGUL, KANA, HAN, OTHER = "Hangul", "Kana", "Han", "other"

# (first, last) code points of each script's blocks.
_BLOCKS = [
    (0x0041, 0x024F, LATIN), (0x0250, 0x02AF, LATIN), (0x0370, 0x03FF, GREEK),
    (0x0400, 0x052F, CYRILLIC), (0x0530, 0x058F, ARMENIAN), (0x0590, 0x05FF, HEBREW),
    (0x0600, 0x06FF, ARABIC), (0x0750, 0x077F, ARABIC), (0x08A0, 0x08FF, ARABIC),
    (0x0900, 0x097F, DEVANAGARI), (0x0980, 0x09FF, BENGALI), (0x0A00, 0x0A7F, GURMUKHI),
    (0x0A80, 0x0AFF, GUJARATI), (0x0B80, 0x0BFF, TAMIL), (0x0C00, 0x0C7F, TELUGU),
    (0x0C80, 0x0CFF, KANNADA), (0x0D00, 0x0D7F, MALAYALAM), (0x0E00, 0x0E7F, THAI),
    (0x10A0, 0x10FF, GEORGIAN), (0x1100, 0x11FF, HANGUL), (0x1C90, 0x1CBF, GEORGIAN),
    (0x1E00, 0x1EFF, LATIN), (0x1F00, 0x1FFF, GREEK),
    (0x3040, 0x309F, KANA), (0x30A0, 0x30FF, KANA), (0x3130, 0x318F, HANGUL),
    (0x31F0, 0x31FF, KANA), (0x3400, 0x4DBF, HAN), (0x4E00, 0x9FFF, HAN),
    (0xAC00, 0xD7AF, HANGUL), (0xF900, 0xFAFF, HAN), (0xFB1D, 0xFB4F, HEBREW),
    (0xFB50, 0xFDFF, ARABIC), (0xFE70, 0xFEFF, ARABIC), (0xFF21, 0xFF5A, LATIN),
    (0xFF66, 0xFF9F, KANA), (0x20000, 0x3134F, HAN),
]
_STARTS = [first for first, _, _ in _BLOCKS]
_script_of_letter: dict[str, str] = {}


def script_of(letter: str) -> str:
    """The script of one letter (a character for which ``str.isalpha`` holds)."""
    script = _script_of_letter.get(letter)
    if script is None:
        code = ord(letter)
        index = bisect_right(_STARTS, code) - 1
        script = _BLOCKS[index][2] if index >= 0 and code <= _BLOCKS[index][1] else OTHER
        _script_of_letter[letter] = script
    return script


def letters_by_script(text: str, limit: int | None = None) -> dict[str, int]:
    """How many letters of ``text`` are in each script, counting at most ``limit`` letters
    (from the start) when given."""
    counts: dict[str, int] = {}
    ascii_letters = seen = 0
    for char in text:
        if char.isalpha():
            # Most letters of most text are ASCII: count those without a look-up.
            if char < "\x80":
                ascii_letters += 1
            else:
                script = _script_of_letter.get(char) or script_of(char)
                counts[script] = counts.get(script, 0) + 1
            seen += 1
            if seen == limit:
                break
    if ascii_letters:
        counts[LATIN] = counts.get(LATIN, 0) + ascii_letters
    return counts
