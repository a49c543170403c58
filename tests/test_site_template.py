"""Lines repeated across a site's documents (the site_template rule), through the real
ingest flow into a temporary DuckDB file: marked with their counts once a site holds enough
documents, earlier copies included; content, and sentences repeated across sites, kept."""
from __future__ import annotations

import duckdb
import pytest

from flows.ingest import ingest
from storage.corpus import Corpus
from tasks.boilerplate import RuleError, load_rules, site_repeat_rule

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_harness")]

MENU = "Accueil du Journal de la Vallée, votre quotidien régional"
FOOTER = "Abonnez-vous pour lire tous nos articles en illimité"
OTHER_MENU = "Le Courrier du Sud : toute l'actualité de la région"
# A quote every site carries, in fewer than five documents of each: content, not template.
QUOTE = "« Nous ne céderons jamais à la pression », a déclaré le ministre devant les députés réunis hier soir."


def write_site(folder, first: int, count: int, lines_of) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(first, first + count):
        (folder / f"article{i:02}.txt").write_text("\n".join(lines_of(i)) + "\n", encoding="utf-8")


def article(site: str, i: int, *, header: str | None = None, top: str | None = None, bottom: str | None = None,
            quote: bool = False) -> list[str]:
    lines = [header] if header else []
    lines.append(f"Titre de l'article {i} du site {site}")
    if top:
        lines.append(top)
    lines.append(f"Le contenu propre de l'article {i} du site {site} parle de sujets divers, avec le numéro {i}.")
    if quote:
        lines.append(QUOTE)
    lines.append(f"Un second paragraphe de l'article {i} ({site}), assez long pour être du contenu à part entière.")
    if bottom:
        lines.append(bottom)
    return lines


def rows(db, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def assert_consistent(db) -> None:
    """Pointers point at kept paragraphs; documents' text and counts are those their
    paragraphs give; the exact index holds each fingerprint's first live occurrence; the
    band index, kept paragraphs only."""
    assert rows(db, """
        SELECT count(*) FROM paragraphs d LEFT JOIN paragraphs o ON o.doc_id = d.dup_of_doc AND o.position = d.dup_of_position
        WHERE d.status = 'duplicate' AND (o.doc_id IS NULL OR o.status <> 'kept')""") == [(0,)]
    outcome = "SELECT doc_id, text, n_paragraphs, n_kept, n_removed, n_duplicate, dup_of_doc FROM documents ORDER BY ALL"
    with Corpus(db) as corpus:  # recomputed in a transaction rolled back: the file stays as it was
        written = corpus.con.execute(outcome).fetchall()
        corpus.con.execute("BEGIN")
        corpus.con.execute("CREATE OR REPLACE TEMP TABLE affected_documents AS SELECT doc_id, seq FROM documents")
        corpus._refresh_documents()
        recomputed = corpus.con.execute(outcome).fetchall()
        corpus.con.execute("ROLLBACK")
    assert recomputed == written
    assert rows(db, "SELECT fingerprint, pid FROM paragraph_firsts ORDER BY ALL") == rows(
        db, "SELECT fingerprint, min(pid) FROM paragraphs WHERE fingerprint IS NOT NULL AND status <> 'removed' "
            "GROUP BY ALL ORDER BY ALL")
    assert rows(db, "SELECT count(*) FROM paragraph_bands b ANTI JOIN paragraphs p ON p.pid = b.pid AND p.status = 'kept'") == [(0,)]


def fates(db, text: str) -> list[tuple]:
    """(site folder, status, rule) of each copy of a line, in corpus order."""
    return rows(db, """
        SELECT regexp_extract(d.source, '/(site\\w)/', 1), p.status, p.removed_by
        FROM paragraphs p JOIN documents d USING (doc_id) WHERE p.text = ? ORDER BY p.pid""", [text])


def test_lines_repeated_across_a_site_are_marked_with_their_counts_and_content_stays(tmp_path):
    inbox = tmp_path / "inbox"
    write_site(inbox / "siteA", 0, 6, lambda i: article("A", i, top=MENU, bottom=FOOTER, quote=i < 3))
    # Site B carries site A's footer in two documents (too few there), its own name above
    # the headline in all six.
    write_site(inbox / "siteB", 0, 6, lambda i: article("B", i, header=OTHER_MENU, bottom=FOOTER if i < 2 else None,
                                                         quote=i < 3))
    db = tmp_path / "corpus.duckdb"
    summary = ingest(sources=[str(inbox)], db=str(db))

    assert summary["removed_by_rule"] == {"site_template": 18}
    assert rows(db, "SELECT site LIKE '%/siteA', text, documents, site_documents FROM site_templates ORDER BY ALL") == [
        (False, OTHER_MENU, 6, 6), (True, FOOTER, 6, 6), (True, MENU, 6, 6)]
    assert rows(db, "SELECT DISTINCT rule, documents, site_documents FROM site_template_removals") == [("site_template", 6, 6)]
    assert fates(db, MENU) == [("siteA", "removed", "site_template")] * 6
    # Site A's footer goes from site A, the first occurrence included; on site B it is
    # content, its first copy there now the original of the second.
    assert fates(db, FOOTER) == [("siteA", "removed", "site_template")] * 6 + [
        ("siteB", "kept", None), ("siteB", "duplicate", None)]
    # The quote, in three documents of each site: kept once, the other copies duplicates.
    assert [status for _, status, _ in fates(db, QUOTE)] == ["kept"] + ["duplicate"] * 5
    assert rows(db, "SELECT count(*) FROM documents WHERE contains(text, ?) OR contains(text, ?)", [MENU, OTHER_MENU]) == [(0,)]
    assert rows(db, "SELECT status <> 'removed', count(*) FROM paragraphs WHERE text LIKE 'Le contenu propre%' "
                    "OR text LIKE 'Un second paragraphe%' GROUP BY ALL") == [(True, 24)]
    # A text file's title is its first content line: once the site's name above it goes, its headline.
    assert rows(db, "SELECT title FROM documents WHERE source LIKE '%siteB/article00.txt'") == [("Titre de l'article 0 du site B",)]
    assert_consistent(db)

    before = rows(db, "SELECT doc_id, position, status, removed_by, dup_of_doc, dup_of_position, lang FROM paragraphs ORDER BY ALL")
    ingest(sources=[str(inbox)], db=str(db), force=True)  # everything loaded again: marked again, the same
    assert rows(db, "SELECT doc_id, position, status, removed_by, dup_of_doc, dup_of_position, lang FROM paragraphs "
                    "ORDER BY ALL") == before
    assert_consistent(db)


def test_a_growing_site_marks_earlier_copies_and_a_shrinking_one_unmarks_them(tmp_path):
    inbox = tmp_path / "inbox"
    db = tmp_path / "corpus.duckdb"
    write_site(inbox / "siteA", 0, 3, lambda i: article("A", i, bottom=FOOTER))
    first = ingest(sources=[str(inbox)], db=str(db))
    # Three documents: below min_documents, nothing marked; dedup keeps the first copy.
    assert first["removed_by_rule"] == {}
    assert [status for _, status, _ in fates(db, FOOTER)] == ["kept", "duplicate", "duplicate"]
    first_doc = rows(db, "SELECT doc_id FROM documents ORDER BY seq LIMIT 1")[0][0]
    assert FOOTER in rows(db, "SELECT text FROM documents WHERE doc_id = ?", [first_doc])[0][0]

    write_site(inbox / "siteA", 3, 3, lambda i: article("A", i, bottom=FOOTER))
    second = ingest(sources=[str(inbox)], db=str(db))
    assert (second["documents_new"], second["documents_unchanged"]) == (3, 3)
    # Six documents: every copy goes, the first run's included (their first occurrence too).
    assert fates(db, FOOTER) == [("siteA", "removed", "site_template")] * 6
    assert rows(db, "SELECT count(*) FROM documents WHERE contains(text, ?)", [FOOTER]) == [(0,)]
    assert rows(db, "SELECT n_kept, n_removed, n_duplicate FROM documents WHERE doc_id = ?", [first_doc]) == [(3, 1, 0)]
    assert rows(db, "SELECT documents, site_documents FROM site_templates") == [(6, 6)]
    assert_consistent(db)

    snapshot = "SELECT doc_id, position, status, removed_by, dup_of_doc, dup_of_position FROM paragraphs ORDER BY ALL"
    before = rows(db, snapshot)
    ingest(sources=[str(inbox)], db=str(db))  # nothing changed: nothing counted again, nothing marked twice
    assert rows(db, snapshot) == before

    # Three documents lose the footer: in three of six, below the thresholds, it is content
    # again; its first remaining copy the original, in its document's text.
    write_site(inbox / "siteA", 0, 3, lambda i: article("A", i))
    ingest(sources=[str(inbox)], db=str(db))
    assert [status for _, status, _ in fates(db, FOOTER)] == ["kept", "duplicate", "duplicate"]
    assert rows(db, "SELECT count(*) FROM site_templates") == [(0,)]
    assert rows(db, "SELECT count(*) FROM documents WHERE contains(text, ?)", [FOOTER]) == [(1,)]
    assert rows(db, "SELECT DISTINCT lang FROM paragraphs WHERE text = ? AND status = 'kept'", [FOOTER]) == [("fr",)]
    assert_consistent(db)


def test_long_paragraphs_and_copies_of_a_page_are_not_template(tmp_path):
    inbox = tmp_path / "inbox"
    long_notice = ("Les informations publiées sur ce site le sont à titre indicatif. " * 4).strip()
    assert len(long_notice) > site_repeat_rule(load_rules()).max_chars
    write_site(inbox / "siteA", 0, 6, lambda i: article("A", i, bottom=long_notice))
    # The same page six times over (crawled under six names): copies, not six documents.
    write_site(inbox / "siteB", 0, 6, lambda i: article("B", 0, bottom=FOOTER))
    db = tmp_path / "corpus.duckdb"
    summary = ingest(sources=[str(inbox)], db=str(db))
    assert summary["removed_by_rule"] == {}
    assert rows(db, "SELECT count(*) FROM site_templates") == [(0,)]
    assert_consistent(db)


def test_disabling_the_rule_or_a_bad_threshold(tmp_path):
    from tasks.boilerplate import RuleSpec

    assert site_repeat_rule(load_rules(RuleSpec(disabled=("site_template",)))) is None
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]]\nname = 'site_template'\ncontext = 'site_repeat'\nmin_share = 2\n", encoding="utf-8")
    with pytest.raises(RuleError, match="min_share"):
        load_rules(RuleSpec(files=(str(bad),)))
