"""Golden tests on the user's two samples: exactly which paragraphs stay and which go, and why.

The expected output lives in tests/golden/<sample>.json. After an intended change, rerun
with ``pytest tests/test_golden.py --regenerate-golden`` and review the diff like code.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.pipeline import clean_batch

from conftest import ROOT, SAMPLES, records_of

GOLDEN = ROOT / "tests" / "golden"
SAMPLE_FILES = sorted(SAMPLES.glob("*.txt"))


def _golden_view(path: Path) -> dict:
    document = clean_batch(records_of(path), {}).documents[0]
    return {
        "title": document.title,
        "lang": document.lang,
        "kept": [p.text for p in document.paragraphs if p.status == "kept"],
        "removed": [
            {"rule": p.removed_by, "text": p.text, "repeats_position": p.dup_of_position}
            for p in document.paragraphs if p.status == "removed"
        ],
        "duplicates": [p.position for p in document.paragraphs if p.status == "duplicate"],
    }


def test_samples_are_the_users_seeds():
    seeds = ROOT.parent / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip("shared/seeds not beside this checkout")
    for seed in seeds.glob("*.txt"):
        assert (SAMPLES / seed.name).read_bytes() == seed.read_bytes()


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_sample_matches_golden(path: Path, regenerate: bool):
    golden_file = GOLDEN / f"{path.stem}.json"
    actual = _golden_view(path)
    if regenerate:
        golden_file.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert actual == json.loads(golden_file.read_text(encoding="utf-8"))


def test_sample_000_facts():
    view = _golden_view(SAMPLES / "000_747d8f32a30fbfc0.txt")
    assert view["lang"] == "fr"
    assert view["title"].startswith("En visite à Téhéran, le plus haut responsable russe")
    assert [r["rule"] for r in view["removed"]] == ["social_embed", "social_embed", "author_bio"]
    assert view["removed"][0]["text"].endswith("pic.twitter.com/5QU9X1HX6G")
    assert view["removed"][1]["text"] == "— Iran International English (@IranIntlEn) August 5, 2024"
    assert view["removed"][2]["text"].startswith("Le Staff de All Israel News")
    assert len(view["kept"]) == 16


def test_sample_001_facts():
    path = SAMPLES / "001_1169cbb8d4b3db09.txt"
    document = clean_batch(records_of(path), {}).documents[0]
    assert document.lang == "fr"
    assert document.title == "Sergueï Choïgou en Iran pour réaffirmer le soutien de Moscou"
    fates = [(p.status, p.removed_by) for p in document.paragraphs]
    assert fates[:3] == [("removed", "search_ui"), ("removed", "search_ui"), ("removed", "navigation")]
    assert fates[5] == ("removed", "caption_credit")
    last = document.paragraphs[-1]
    assert (last.status, last.removed_by) == ("removed", "truncated_repeat")
    assert last.text.endswith("rapporte...")
    original = document.paragraphs[last.dup_of_position]
    assert (last.dup_of_doc, original.status) == (document.doc_id, "kept")
    assert original.text.startswith("L’ancien ministre russe de la Défense")
    assert original.text.endswith("rapporte l'agence Reuters.")
