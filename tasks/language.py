"""Language identification with langdetect's algorithm, made deterministic, judged by script.

langdetect-rs is a bit-for-bit port of langdetect in Rust, about 40x faster; the pure-Python
langdetect is the fallback where the port cannot be imported. Both are seeded, so the same
text always gets the same answer.

What a text is written in says how much of it is needed and which answers can be right:
Hangul is Korean whatever langdetect says, and a Latin word could be any of 31 languages.
Each script's rule (SCRIPT_RULES) sets the letters needed and the languages that write it;
langdetect picks among those (docs/language.md).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from tasks import scripts
from tasks.records import UNDETERMINED

# Enough letters in any script: a text this long is never too short. Its first this many
# letters also tell its script.
MIN_LETTERS = 20
# The first couple of thousand characters settle a document's language.
DOCUMENT_SAMPLE_CHARS = 2000
SEED = 0
# Japanese writes particles and endings in kana, so even a kanji-heavy headline has one kana
# in twenty letters (台風10号、九州南部に接近 鹿児島県に暴風・高潮警報); Chinese writes none.
MIN_PARTNER_SHARE = 0.05
# langdetect's answer stands if a script its language is written in holds this share of the
# text's letters (kanji counting as Han): "X Facebook LINE はてなブックマーク" is ja, Chinese
# naming ソニー zh. Overruled are answers the letters rule out, such as ko for Han text
# without Hangul.
MIN_ANSWER_SHARE = 1 / 3


@dataclass(frozen=True)
class ScriptRule:
    """``min_letters``: a text under MIN_LETTERS letters with fewer of this script is ``und``.
    ``languages``: langdetect's answers that fit text in the script. When the text's letters
    rule out langdetect's answer (MIN_ANSWER_SHARE), the answer is its most probable of
    ``fallback`` (``languages`` if empty); ``und`` if there is none."""
    min_letters: int
    languages: tuple[str, ...]
    fallback: tuple[str, ...] = ()

    @property
    def fallback_languages(self) -> tuple[str, ...]:
        return self.fallback or self.languages


LATIN_LANGUAGES = tuple("af ca cs cy da de en es et fi fr hr hu id it lt lv nl no pl pt ro sk sl so sq sv sw tl tr vi".split())
CHINESE = ("zh-cn", "zh-tw")  # langdetect's simplified and traditional Chinese, kept as docmill's codes

SCRIPT_RULES = {
    # Shared by 31 languages: under 11 letters (a word or two) langdetect names almost any
    # of them ("Rechercher" de, "Accueil" ro, "Kontakt" id), however sure it says it is.
    scripts.LATIN: ScriptRule(11, LATIN_LANGUAGES),
    # Four close Slavic languages: as for Latin ("Поиск" mk, "Подписаться" uk).
    scripts.CYRILLIC: ScriptRule(11, ("bg", "mk", "ru", "uk")),
    # Arabic, Persian, Urdu: the last two have letters of their own (پ گ, ے ٹ); two words.
    scripts.ARABIC: ScriptRule(8, ("ar", "fa", "ur")),
    # Hindi, Marathi, Nepali; vowel signs are not letters, so 8 letters is two or three words.
    scripts.DEVANAGARI: ScriptRule(8, ("hi", "mr", "ne")),
    # Chinese, and Japanese written in kanji only: langdetect knows kanji forms only Japanese
    # uses (検, 駅), but its Korean answer on Han text is the hanja of its Korean profile
    # (新聞 ko) and is never right: then simplified or traditional Chinese. Two words.
    scripts.HAN: ScriptRule(4, (*CHINESE, "ja"), fallback=CHINESE),
    # Han letters written with kana are Japanese, with Hangul Korean (MIN_PARTNER_SHARE).
    scripts.KANA: ScriptRule(2, ("ja",)),
    scripts.HANGUL: ScriptRule(2, ("ko",)),
    # One language each among langdetect's: a word names it.
    scripts.THAI: ScriptRule(2, ("th",)),
    scripts.BENGALI: ScriptRule(2, ("bn",)),
    scripts.GURMUKHI: ScriptRule(2, ("pa",)),
    scripts.GUJARATI: ScriptRule(2, ("gu",)),
    scripts.TAMIL: ScriptRule(2, ("ta",)),
    scripts.TELUGU: ScriptRule(2, ("te",)),
    scripts.KANNADA: ScriptRule(2, ("kn",)),
    scripts.MALAYALAM: ScriptRule(2, ("ml",)),
    scripts.HEBREW: ScriptRule(2, ("he",)),
    # Greek letters double as symbols in other text (μm, α-helix): one more.
    scripts.GREEK: ScriptRule(3, ("el",)),
    # No langdetect profile (it says et): the script alone names the language, without a
    # probability.
    scripts.ARMENIAN: ScriptRule(2, ("hy",)),
    scripts.GEORGIAN: ScriptRule(2, ("ka",)),
    # Scripts none of langdetect's languages is written in: whatever it says is wrong.
    scripts.OTHER: ScriptRule(MIN_LETTERS, ()),
}

Guess = tuple[str, float | None]

_backend: ModuleType | None = None


def _import_backend() -> ModuleType:
    try:
        import langdetect_rs as backend
    except ImportError:  # pragma: no cover - the port ships wheels for our platforms
        import langdetect as backend
    return backend


def _seeded(backend: ModuleType) -> ModuleType:
    backend.DetectorFactory.seed = SEED
    backend.detector_factory.init_factory()
    return backend


def init_detector(backend: ModuleType | None = None) -> ModuleType:
    """Load the language profiles and seed the detector, once per process.

    langdetect loads its profiles lazily on first use, which is not thread-safe: call this
    before any work starts (worker processes do it in their initializer). An explicit
    ``backend`` (tests comparing the two implementations) leaves the process default alone.
    """
    global _backend
    if backend is not None:
        return _seeded(backend)
    if _backend is None:
        _backend = _seeded(_import_backend())
    return _backend


def backend_name() -> str:
    return init_detector().__name__


def writing(counts: dict[str, int]) -> dict[str, int]:
    """Letters by script as written: Han letters count as kana (Japanese) or Hangul (Korean)
    when enough of those are written with them (MIN_PARTNER_SHARE)."""
    han = counts.get(scripts.HAN, 0)
    for partner in (scripts.KANA, scripts.HANGUL):
        if han and counts.get(partner, 0) / (counts.get(partner, 0) + han) >= MIN_PARTNER_SHARE:
            return {**{script: n for script, n in counts.items() if script != scripts.HAN}, partner: counts[partner] + han}
    return counts


def main_script(counts: dict[str, int]) -> str:
    return max(counts, key=counts.__getitem__) if counts else scripts.OTHER


def _best(guesses) -> Guess:
    if not guesses:
        return UNDETERMINED, None
    top = guesses[0]
    return top.lang, top.prob


def detect_languages(texts: Sequence[str], backend: ModuleType | None = None) -> list[Guess]:
    """The most probable language of each text with its probability, or ('und', None)
    for text too short to judge for its script or on which detection fails."""
    # Text by text in this thread, not with langdetect-rs's detect_langs_batch: its threads
    # compete with the other cleaning processes for the same cores. On bench/extraction.py's
    # pages that took 0.84 ms of CPU a page, against 0.72 text by text.
    detector = init_detector(backend)
    return [_guess(detector, text) for text in texts]


def _guess(detector: ModuleType, text: str) -> Guess:
    first = scripts.letters_by_script(text, MIN_LETTERS)
    written = writing(first)
    script = main_script(written)
    rule = SCRIPT_RULES[script]
    if sum(first.values()) < MIN_LETTERS and written.get(script, 0) < rule.min_letters:
        return UNDETERMINED, None
    guess = _best(_detect_one(detector, text))
    if guess[0] in rule.languages:
        return guess
    # langdetect read the whole text: judge its answer by all the letters, not the first.
    counts = scripts.letters_by_script(text)
    if _fits(guess[0], counts):
        return guess
    return _detect_among(detector, text, SCRIPT_RULES[main_script(writing(counts))].fallback_languages)


def _fits(lang: str, counts: dict[str, int]) -> bool:
    """Whether a script ``lang`` is written in holds MIN_ANSWER_SHARE of the letters."""
    total = sum(counts.values())
    return any(lang in SCRIPT_RULES[script].languages and count >= MIN_ANSWER_SHARE * total
               for script, count in counts.items())


def _detect_one(detector: ModuleType, text: str):
    try:
        return detector.detect_langs(text)
    except detector.LangDetectException:
        return None


def _detect_among(detector: ModuleType, text: str, languages: tuple[str, ...]) -> Guess:
    """langdetect's most probable language of ``languages`` (a script's), its prior zero for
    every other; a language it has no profile for is the answer without a probability."""
    if not languages:
        return UNDETERMINED, None
    # The module's own factory, loaded by init_detector: a second one would load the
    # profiles again.
    factory = detector.detector_factory._factory
    known = [lang for lang in languages if lang in factory.get_lang_list()]
    if not known:
        return languages[0], None
    restricted = factory.create()
    restricted.set_prior_map(dict.fromkeys(known, 1.0))
    restricted.append(text)
    try:
        return _best(restricted.get_probabilities())
    except detector.LangDetectException:
        return UNDETERMINED, None


def detect_language(text: str) -> Guess:
    return detect_languages([text])[0]
