"""Reading sources: encodings, and bad input turned into clear failures."""
from __future__ import annotations

import threading

import pytest

from tasks.pipeline import clean_batch
from tasks.reading import UnreadableSource, decode
import tasks.sources
from tasks.sources import HashStopped, ReadOptions, discover, file_hash, iter_records, plan_batches

from conftest import records_of

FRENCH = "Le café coûte cher à Paris, hélas. Les élèves sont très sûrs d'eux, déjà en été."


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])
def test_decodes_common_encodings(encoding: str):
    assert decode((FRENCH * 3).encode(encoding)) == FRENCH * 3


def test_short_latin1_is_read_as_western_not_central_european():
    assert decode("Café à Paris, élève très sûr.".encode("latin-1")) == "Café à Paris, élève très sûr."


@pytest.mark.parametrize(
    "data, stage, words",
    [
        (b"", "read", "empty"),
        (b"  \n\t\n", "read", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "decode", "binary"),
        (bytes(range(1, 32)) * 40, "decode", "binary"),
    ],
)
def test_bad_bytes_raise_a_clear_error(data: bytes, stage: str, words: str):
    with pytest.raises(UnreadableSource) as error:
        decode(data)
    assert error.value.stage == stage and words in str(error.value)


def test_bad_files_become_failures_and_the_batch_goes_on(tmp_path):
    (tmp_path / "good.txt").write_text(FRENCH, encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    (tmp_path / "legacy.txt").write_bytes((FRENCH + "\n") .encode("latin-1"))
    (tmp_path / "ignored.bin").write_bytes(b"\x00")  # unknown extension: not taken from a directory
    files, failures = discover([str(tmp_path), str(tmp_path / "missing")])
    assert sorted(f.path.rsplit("/", 1)[1] for f in files) == ["binary.txt", "empty.txt", "good.txt", "legacy.txt"]
    assert [f.stage for f in failures] == ["discover"] and "missing" in failures[0].message
    result = clean_batch([r for f in files for r in iter_records(f)], {})
    texts = {doc.source.rsplit("/", 1)[1]: doc.text for doc in result.documents}
    assert texts == {"good.txt": FRENCH, "legacy.txt": FRENCH}
    messages = {f.source.rsplit("/", 1)[1]: f.message for f in result.failures}
    assert messages.keys() == {"empty.txt", "binary.txt"}
    assert "binary content" in messages["binary.txt"]


def test_unchanged_source_is_skipped_before_cleaning(tmp_path):
    (tmp_path / "a.txt").write_text(FRENCH, encoding="utf-8")
    records = records_of(tmp_path)
    first = clean_batch(records, {})
    again = clean_batch(records, {records[0].doc_id: first.documents[0].content_hash})
    assert again.documents == [] and again.unchanged == [records[0].doc_id]


def test_batches_start_small_and_record_each_file_with_its_hash(tmp_path):
    lines = [f'{{"id": "{i}", "text": "{FRENCH} {i}"}}' for i in range(10, 50)]
    (tmp_path / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "known.txt").write_text(FRENCH, encoding="utf-8")
    files, _ = discover([str(tmp_path)])
    known = {file.source: file_hash(file.path)[0] for file in files if file.path.endswith("known.txt")}
    record_size = len(f"{FRENCH} 10")  # a JSON Lines record's payload is its text
    batches = list(plan_batches(files, ReadOptions(), known, batch_size=1000, max_batch_bytes=8 * record_size))
    assert [len(b.records) for b in batches] == [1, 2, 4, 8, 8, 8, 8, 1]  # an eighth of the cap, doubling
    done = [d for b in batches for d in b.sources_done]
    assert [(d.source.rsplit("/", 1)[1], d.content_hash) for d in done] == [
        ("docs.jsonl", file_hash(str(tmp_path / "docs.jsonl"))[0])
    ]
    assert [s.rsplit("/", 1)[1] for b in batches for s in b.unchanged_sources] == ["known.txt"]


def test_a_file_written_to_while_read_is_recorded_incomplete_to_be_read_again(tmp_path, monkeypatch):
    path = tmp_path / "growing.jsonl"
    path.write_text(f'{{"text": "{FRENCH}"}}\n', encoding="utf-8")
    real_hash = tasks.sources.file_hash

    def hash_after_an_append(name, stop=None):  # a crawler appends while docmill reads
        with open(name, "a", encoding="utf-8") as handle:
            handle.write(f'{{"text": "{FRENCH} encore"}}\n')
        return real_hash(name, stop)

    monkeypatch.setattr(tasks.sources, "file_hash", hash_after_an_append)
    files, _ = discover([str(path)])
    done = [d for b in plan_batches(files, ReadOptions(), {}, batch_size=100) for d in b.sources_done]
    assert [d.complete for d in done] == [False]


def test_a_file_that_cannot_be_hashed_is_read_and_reported_but_not_recorded(tmp_path, monkeypatch):
    (tmp_path / "docs.jsonl").write_text(f'{{"text": "{FRENCH}"}}\n', encoding="utf-8")

    def unreadable(name, stop=None):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tasks.sources, "file_hash", unreadable)
    files, _ = discover([str(tmp_path)])
    batches = list(plan_batches(files, ReadOptions(), {}, batch_size=100))
    assert sum(len(b.records) for b in batches) == 1
    assert [d for b in batches for d in b.sources_done] == []
    [failure] = [f for b in batches for f in b.failures]
    assert failure.stage == "read" and "could not be hashed, so it will be read again" in failure.message


def test_a_hash_is_abandoned_once_asked_to_stop(tmp_path):
    (tmp_path / "big.txt").write_bytes(b"x" * (3 << 20))
    stop = threading.Event()
    stop.set()
    with pytest.raises(HashStopped):
        file_hash(str(tmp_path / "big.txt"), stop)


def test_hard_wrapped_prose_is_rejoined_but_one_line_paragraphs_are_not():
    from tasks.normalize import split_paragraphs

    wrapped = (
        "The committee met on Monday morning to discuss the budget\n"
        "for next year and the year after, and it heard from many\n"
        "residents who had come to speak about the new road."
    )
    assert split_paragraphs(wrapped + "\n\nSecond paragraph.") == [" ".join(wrapped.split("\n")), "Second paragraph."]
    assert split_paragraphs("Title\nFirst line of text.\nSecond line.") == ["Title", "First line of text.", "Second line."]


LEGACY = {
    "cp1252": ["Die Bürger müssen für die Straße zahlen, sagte der Bürgermeister in München.",
               "El niño comió una manzana en la montaña, según la información del señor."],
    "cp1250": ["Komisja opublikuje swoje wnioski w przyszłym tygodniu, powiedziała rzeczniczka.",
               "Výbor zveřejní svá zjištění příští týden, řekla mluvčí při jednání."],
    "cp1251": ["Комитет опубликует свои выводы на следующей неделе, сообщила представитель."],
    "cp1253": ["Η επιτροπή θα δημοσιεύσει τα ευρήματά της την επόμενη εβδομάδα."],
    "cp1254": ["Komite bulgularını gelecek hafta yayımlayacak, dedi sözcü şöyle açıkladı ağır."],
}


@pytest.mark.parametrize("code_page, text", [(cp, t) for cp, texts in LEGACY.items() for t in texts])
def test_short_legacy_text_in_many_languages(code_page: str, text: str):
    assert decode(text.encode(code_page)) == text
