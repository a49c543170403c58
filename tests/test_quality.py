"""Quality signals (tasks/quality.py): hand-computed fixtures in English, Japanese and Thai,
and properties that hold for any text."""
from __future__ import annotations

import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.quality import QualitySignals, quality_signals, tokens, words


def test_an_english_document_by_hand():
    q = quality_signals(["The cat sat.", "The cat sat.", "# Big news...", "- one 2024"], "en")
    # words, without punctuation: the cat sat (twice), big news, one 2024: 32 characters
    assert q.word_count == 10
    assert q.mean_word_length == pytest.approx(3.2)
    assert q.line_count == 4
    assert q.terminal_punctuation_line_share == 0.75  # "..." ends in a period too, as in C4
    assert q.bullet_line_share == 0.25
    assert q.ellipsis_line_share == 0.25
    assert q.hash_word_ratio == pytest.approx(0.1) and q.ellipsis_word_ratio == pytest.approx(0.1)
    assert q.non_alpha_word_share == pytest.approx(0.1)  # "2024"
    assert q.stop_word_count == 2  # "the" twice
    assert (q.duplicate_line_share, q.duplicate_line_char_share) == (0.25, pytest.approx(12 / 47))
    assert (q.duplicate_paragraph_share, q.duplicate_paragraph_char_share) == (0.25, pytest.approx(12 / 47))
    assert q.top_2gram_char_share == pytest.approx(12 / 32)  # "the cat" twice, 6 characters each
    assert q.top_3gram_char_share == pytest.approx(18 / 32)
    assert q.top_4gram_char_share is None  # no line has four words
    assert q.duplicate_5gram_char_share == 0.0
    assert (q.lorem_ipsum_count, q.curly_bracket_count, q.javascript_line_count, q.policy_line_count) == (0, 0, 0, 0)
    assert q.c4_sentence_count == 0  # no line of five words


def test_c4_markers_by_hand():
    q = quality_signals([
        "Lorem ipsum dolor sit amet, lorem Ipsum again.",
        "Please enable JavaScript to view the comments on this page.",
        "By continuing you accept our Privacy Policy and Terms of Use.",
        "The council met on Monday. It voted twice! Was it right?",
        "function f() { return 1; }",
    ], "en")
    assert q.lorem_ipsum_count == 2 and q.curly_bracket_count == 2
    assert q.javascript_line_count == 1 and q.policy_line_count == 1
    # kept by C4: the lorem line (1 sentence) and the council's (3: ". " and "! " and its end);
    # not the javascript and policy lines, nor the function (no terminal punctuation)
    assert q.c4_sentence_count == 4


def test_a_japanese_document_counts_each_character_as_a_word():
    assert words("東京は晴れ。") == ["東", "京", "は", "晴", "れ"]
    q = quality_signals(["東京は晴れ。", "東京は晴れ。"], "ja")
    assert (q.word_count, q.mean_word_length, q.terminal_punctuation_line_share) == (10, 1.0, 1.0)
    assert q.stop_word_count is None  # no list for Japanese
    assert (q.duplicate_line_share, q.duplicate_line_char_share) == (0.5, 0.5)
    assert q.top_2gram_char_share == pytest.approx(4 / 10)  # each bigram twice, two characters
    assert q.top_4gram_char_share == pytest.approx(8 / 10)
    assert q.duplicate_5gram_char_share == 1.0 and q.duplicate_6gram_char_share == 0.0
    assert q.c4_sentence_count == 2  # five words each, ending in 。


def test_a_thai_document_counts_each_character_with_its_marks_as_a_word():
    assert tokens("ภาษาไทย ง่าย") == ["ภ", "า", "ษ", "า", "ไ", "ท", "ย", "ง่", "า", "ย"]
    q = quality_signals(["ภาษาไทย ง่าย"], "th")
    assert (q.word_count, q.mean_word_length, q.non_alpha_word_share) == (10, pytest.approx(1.1), 0.0)
    assert q.top_2gram_char_share == pytest.approx(3 / 11)  # all once; the longest has "ง่"
    assert q.duplicate_line_share == 0.0


def test_an_empty_document_has_no_shares():
    q = quality_signals([], "und")
    assert q.word_count == 0 and q.mean_word_length is None and q.terminal_punctuation_line_share is None
    assert q.top_2gram_char_share is None and q.duplicate_5gram_char_share is None


def test_overlapping_repeats_count_each_character_once():
    q = quality_signals(["na na na na na na"], "en")
    assert q.top_2gram_char_share == 1.0 and q.duplicate_5gram_char_share == 1.0


_SHARES = [name for name in QualitySignals.__dataclass_fields__ if "share" in name]
_piece = st.sampled_from(list("ab cd.!…#-•\n{}東京ภา่") + ["the ", "of ", "na "])
_paragraph = st.lists(_piece, max_size=30).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(_paragraph, max_size=8), st.sampled_from(["en", "fr", "ja", "und"]), st.randoms())
def test_signals_are_in_range_deterministic_and_independent_of_paragraph_order(paragraphs, lang, rng):
    signals = quality_signals(paragraphs, lang)
    for name in _SHARES:
        value = getattr(signals, name)
        assert value is None or 0.0 <= value <= 1.0 + 1e-12, (name, value)
    assert signals.word_count >= 0 and (signals.mean_word_length is None or signals.mean_word_length >= 1)
    assert quality_signals(list(paragraphs), lang) == signals
    shuffled = list(paragraphs)
    rng.shuffle(shuffled)
    assert _rounded(quality_signals(shuffled, lang)) == _rounded(signals)


def _rounded(signals: QualitySignals) -> tuple:
    # shares are sums of the same terms in another order: equal up to rounding
    return tuple(round(v, 9) if isinstance(v, float) else v for v in
                 (getattr(signals, name) for name in QualitySignals.__dataclass_fields__))


def test_hand_fixture_signals_survive_a_random_shuffle():
    paragraphs = ["The cat sat.", "The cat sat.", "# Big news...", "- one 2024"]
    shuffled = random.Random(7).sample(paragraphs, len(paragraphs))
    assert _rounded(quality_signals(shuffled, "en")) == _rounded(quality_signals(paragraphs, "en"))


def test_signals_survive_pickling_between_processes():
    signals = quality_signals(["The cat sat.", "東京は晴れ。"], "en")
    assert pickle.loads(pickle.dumps(signals)) == signals
