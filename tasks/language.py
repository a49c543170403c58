"""Language identification with langdetect's algorithm, made deterministic.

langdetect-rs is a bit-for-bit port of langdetect in Rust, about 40x faster; the pure-Python
langdetect is the fallback where the port cannot be imported. Both are seeded, so the same
text always gets the same answer.
"""
from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

from tasks.records import UNDETERMINED

# Below this many letters langdetect's answer is noise: say so rather than guess.
MIN_LETTERS = 20
# The first couple of thousand characters settle a document's language.
DOCUMENT_SAMPLE_CHARS = 2000
SEED = 0

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


def _enough_letters(text: str) -> bool:
    letters = 0
    for char in text:
        if char.isalpha():
            letters += 1
            if letters >= MIN_LETTERS:
                return True
    return False


def _best(guesses) -> Guess:
    if not guesses:
        return UNDETERMINED, None
    top = guesses[0]
    return top.lang, top.prob


def detect_languages(texts: Sequence[str], backend: ModuleType | None = None) -> list[Guess]:
    """The most probable language of each text with its probability, or ('und', None)
    for text too short to judge or on which detection fails."""
    # Text by text in this thread, not with langdetect-rs's detect_langs_batch: its threads
    # compete with the other cleaning processes for the same cores. On bench/extraction.py's
    # pages that took 0.84 ms of CPU a page, against 0.72 text by text.
    detector = init_detector(backend)
    return [_best(_detect_one(detector, text) if _enough_letters(text) else None) for text in texts]


def _detect_one(detector: ModuleType, text: str):
    try:
        return detector.detect_langs(text)
    except detector.LangDetectException:
        return None


def detect_language(text: str) -> Guess:
    return detect_languages([text])[0]
