"""Properties of cleaning that must hold for any text (hypothesis)."""
from __future__ import annotations

import copy
import pickle
import sys
import unicodedata
from array import array

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.boilerplate import load_rules
from tasks.dedup import PUNCTUATION_BOUND, dedup_key, dedup_keys
from tasks.normalize import normalize_text, split_paragraphs
from tasks.pipeline import clean_paragraphs
from tasks.records import Paragraph

RULES = load_rules()

# Arbitrary Unicode, plus text built from the pieces boilerplate is made of, so that rules fire.
PIECES = st.sampled_from([
    "Rechercher", "Search", "Photo AFP", "pic.twitter.com/abc", "— A B (@ab) May 1, 2024", "...", "…",
    "Le Staff de X est une équipe de journalistes.", "Lire aussi : X", "Share on Facebook",
    "&amp;", "&amp;amp;", "&#10;", "\u200b", "\u00a0", "\r\n", "\n", "\n\n", " ", "\t", "é", "e\u0301",
    "Dernières Infos - X", "Le ministre a annoncé une réforme des retraites",
])
TEXT = st.one_of(
    st.text(max_size=400),
    st.lists(st.one_of(PIECES, st.text(max_size=30)), max_size=40).map("".join),
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def output_of(text: str) -> str:
    return "\n\n".join(p.text for p in clean_paragraphs(text, RULES) if p.status == "kept")


@FAST
@given(TEXT)
def test_cleaning_never_raises(text: str):
    clean_paragraphs(text, RULES)


@FAST
@given(TEXT)
def test_cleaning_is_idempotent(text: str):
    once = output_of(text)
    assert output_of(once) == once


@FAST
@given(TEXT)
def test_cleaning_never_invents_text(text: str):
    normalized = normalize_text(text)
    flat = " ".join(normalized.split("\n"))
    for paragraph in clean_paragraphs(text, RULES):
        assert paragraph.text in flat
        assert set(paragraph.text) <= set(normalized) | {" "}


@FAST
@given(TEXT)
def test_cleaning_never_reorders_paragraphs(text: str):
    paragraphs = clean_paragraphs(text, RULES)
    assert [p.position for p in paragraphs] == list(range(len(paragraphs)))
    assert [p.text for p in paragraphs] == split_paragraphs(normalize_text(text))
    kept = [p.text for p in paragraphs if p.status == "kept"]
    remaining = iter(split_paragraphs(normalize_text(text)))
    assert all(paragraph in remaining for paragraph in kept), "kept paragraphs are not in input order"


@FAST
@given(TEXT)
def test_normalisation_is_idempotent(text: str):
    assert normalize_text(normalize_text(text)) == normalize_text(text)


def _dedup_key_as_specified(text: str) -> str:
    """dedup_key spelled out one character at a time: the reference the fast one must equal."""
    folded = "".join(" " if unicodedata.category(char).startswith("P") else char
                     for char in unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


@FAST
@given(st.lists(TEXT, max_size=8))
def test_dedup_keys_fold_as_specified_alone_or_together(texts: list[str]):
    expected = [_dedup_key_as_specified(text) for text in texts]
    assert dedup_keys(texts) == expected
    assert [dedup_key(text) for text in texts] == expected


def test_no_punctuation_lies_past_the_bound_the_fold_table_stops_at():
    assert not any(unicodedata.category(chr(c)).startswith("P") for c in range(PUNCTUATION_BOUND, sys.maxunicode + 1))


@FAST
@given(st.builds(
    Paragraph, position=st.integers(0, 10**6), text=st.text(),
    bands=st.one_of(st.none(), st.lists(st.integers(0, 2**64 - 1), max_size=3).map(lambda keys: array("Q", keys))),
    fingerprint=st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    similarity=st.one_of(st.none(), st.floats(0, 1)), key=st.one_of(st.none(), st.text()),
))
def test_a_paragraph_crosses_between_processes_unchanged(paragraph: Paragraph):
    # Paragraph pickles by its own __reduce__ (tasks/records.py), which must carry every field.
    assert pickle.loads(pickle.dumps(paragraph)) == paragraph
    assert copy.copy(paragraph) == paragraph
