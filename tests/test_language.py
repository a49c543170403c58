"""Language detection: deterministic, identical across the two implementations, honest
about text too short to judge."""
from __future__ import annotations

import langdetect
import langdetect_rs

from tasks.language import detect_language, detect_languages
from tasks.normalize import normalize_text, split_paragraphs

from conftest import SAMPLES

MULTILINGUAL = [
    "The committee will publish its findings next week, according to a spokesperson.",
    "Der Ausschuss wird seine Ergebnisse nächste Woche veröffentlichen, sagte eine Sprecherin.",
    "El comité publicará sus conclusiones la próxima semana, según una portavoz.",
    "Комитет опубликует свои выводы на следующей неделе, сообщила представитель.",
    "委員会は来週、調査結果を公表する予定だと広報担当者が述べた。",
    "اللجنة ستنشر نتائجها الأسبوع المقبل بحسب متحدثة باسمها في بيان رسمي",
]


def sample_paragraphs() -> list[str]:
    texts = []
    for path in sorted(SAMPLES.glob("*.txt")):
        texts += split_paragraphs(normalize_text(path.read_text(encoding="utf-8")))
    return texts + MULTILINGUAL


def test_rust_port_and_python_langdetect_agree_exactly():
    texts = sample_paragraphs()
    assert detect_languages(texts, backend=langdetect_rs) == detect_languages(texts, backend=langdetect)


def test_detection_is_deterministic_and_right_on_clear_text():
    langs = [lang for lang, _ in detect_languages(MULTILINGUAL)]
    assert langs == ["en", "de", "es", "ru", "ja", "ar"]
    assert detect_languages(MULTILINGUAL) == detect_languages(MULTILINGUAL)


def test_too_short_or_featureless_text_is_undetermined():
    for text in ["", "Rechercher", "Photo AFP", "12345 67890 !!!! ???? 2024-08-05", "https://t.co/x"]:
        assert detect_language(text) == ("und", None)


def test_probability_is_reported():
    lang, prob = detect_language(MULTILINGUAL[0])
    assert lang == "en" and 0.5 < prob <= 1.0
