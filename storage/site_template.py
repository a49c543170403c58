"""Lines repeated across a site's documents: template text (menus, footers, bylines,
disclaimers), marked by the site_repeat rule (``site_template`` in tasks/rules/default.toml).

Run by the flow once per run, after its loads. For each site whose documents changed since
its lines were last counted (the sites the run touched), it counts in how many of the
site's documents each paragraph fingerprint occurs, from the fingerprints the corpus keeps
for dedup, and marks every copy of a short line found in enough of them, the first
occurrence included; lines whose counts fell below the thresholds are unmarked. Counting
stays within one site: a quote or a wire sentence repeated across sites is not template.

A change of marks changes dedup: a marked paragraph may be the original other copies point
at, and an unmarked one may become it. The documents whose marks change are therefore
rewritten through the path a replacing load takes (their paragraphs deleted and inserted
again, what pointed into them resolved again, their text and counts recomputed), in one
transaction, in bulk.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from storage.corpus import SEQ_SHIFT, Corpus, _cyclic_gc_paused, _index_firsts, _registered, _Resolution, _rollback
from tasks.boilerplate import Rule
from tasks.dedup import sign_paragraphs
from tasks.language import detect_languages
from tasks.pipeline import pick_title
from tasks.records import KEPT, REMOVED, UNDETERMINED, Document, Paragraph


@dataclass(frozen=True, slots=True)
class SiteTemplateCounts:
    sites: int = 0  # sites counted again
    lines: int = 0  # template lines on those sites
    marked: int = 0  # paragraphs newly marked
    unmarked: int = 0  # paragraphs no longer marked, their site's counts having fallen


def mark_site_templates(corpus: Corpus, run_id: str, rule: Rule) -> SiteTemplateCounts:
    """Count the lines of the sites changed since last counted, and mark and unmark their
    paragraphs under ``rule`` (thresholds: its min_documents, min_share and max_chars)."""
    con = corpus.con
    with _cyclic_gc_paused():
        try:
            con.execute("BEGIN")
            counts = _mark(corpus, run_id, rule)
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise
    try:
        corpus._checkpoint()
    finally:
        corpus._release_cache()
    return counts


def _mark(corpus: Corpus, run_id: str, rule: Rule) -> SiteTemplateCounts:
    con = corpus.con
    params = {"rule": rule.name}
    # Every document's site, and the sites to count: those with a document loaded or
    # re-resolved since the site was last counted (now() is this transaction's start, so the
    # rewrites below do not count), whose number of documents changed (deletions), or new.
    # Copies of another document (documents.dup_of_doc: a page crawled twice) are not counted:
    # every line of a page copied five times would otherwise be in five documents.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE st_all AS
        SELECT s.site, d.doc_id, d.seq, d.dup_of_doc IS NULL AS counted, d.updated_at
        FROM document_sites s JOIN documents d USING (doc_id)
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE st_sites AS
        SELECT a.site, a.documents
        FROM (SELECT site, count(*) FILTER (WHERE counted) AS documents, max(updated_at) AS updated_at
              FROM st_all GROUP BY site) a
        LEFT JOIN site_counts c USING (site)
        WHERE c.site IS NULL OR c.documents <> a.documents OR a.updated_at > c.updated_at
        """
    )
    # Sites no document belongs to any more: their counts and lines go.
    con.execute("DELETE FROM site_counts WHERE site NOT IN (SELECT site FROM st_all)")
    con.execute("DELETE FROM site_templates WHERE site NOT IN (SELECT site FROM st_all)")
    sites = con.execute("SELECT count(*) FROM st_sites").fetchone()[0]
    if not sites:
        return SiteTemplateCounts()
    con.execute("CREATE OR REPLACE TEMP TABLE st_docs AS SELECT a.* FROM st_all a SEMI JOIN st_sites USING (site)")
    # The lines of those sites in enough documents, counting every copy that no other rule
    # removed (kept, duplicate, or marked by this rule before: marks count, so a second run
    # finds the same lines); then, among them, the short ones, every copy within the cap.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE st_lines AS
        SELECT t.site, p.fingerprint, count(DISTINCT p.doc_id) FILTER (WHERE t.counted) AS documents,
               any_value(s.documents) AS site_documents
        FROM paragraphs p JOIN st_docs t USING (doc_id) JOIN st_sites s USING (site)
        WHERE p.fingerprint IS NOT NULL AND (p.status <> 'removed' OR p.removed_by = $rule)
        GROUP BY t.site, p.fingerprint
        HAVING count(DISTINCT p.doc_id) FILTER (WHERE t.counted) >= $min_documents
           AND count(DISTINCT p.doc_id) FILTER (WHERE t.counted) >= $min_share * any_value(s.documents)
        """,
        params | {"min_documents": rule.min_documents, "min_share": rule.min_share},
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE st_marks AS
        SELECT p.pid, p.doc_id, p.text, l.site, l.fingerprint
        FROM paragraphs p JOIN st_docs t USING (doc_id) JOIN st_lines l ON l.site = t.site AND l.fingerprint = p.fingerprint
        WHERE p.status <> 'removed' OR p.removed_by = $rule
        QUALIFY max(length(p.text)) OVER (PARTITION BY l.site, l.fingerprint) <= $max_chars
        """,
        params | {"max_chars": rule.max_chars if rule.max_chars is not None else 2**31 - 1},
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE st_changes AS
        SELECT pid, doc_id, true AS mark FROM st_marks
        WHERE pid NOT IN (SELECT pid FROM paragraphs SEMI JOIN st_docs USING (doc_id) WHERE removed_by = $rule)
        UNION ALL
        SELECT pid, doc_id, false AS mark FROM paragraphs SEMI JOIN st_docs USING (doc_id)
        WHERE removed_by = $rule AND pid NOT IN (SELECT pid FROM st_marks)
        """,
        params,
    )
    marked, unmarked = con.execute(
        "SELECT count(*) FILTER (WHERE mark), count(*) FILTER (WHERE NOT mark) FROM st_changes"
    ).fetchone()
    if marked or unmarked:
        _rewrite(corpus, rule)
    con.execute("DELETE FROM site_templates WHERE site IN (SELECT site FROM st_sites)")
    lines = con.execute(
        """
        INSERT INTO site_templates
        SELECT m.site, m.fingerprint, arg_min(m.text, m.pid), any_value(l.documents), any_value(l.site_documents),
               $rule, $run_id
        FROM st_marks m JOIN st_lines l USING (site, fingerprint)
        GROUP BY m.site, m.fingerprint
        """,
        params | {"run_id": run_id},
    ).fetchone()[0]
    con.execute(
        """
        INSERT OR REPLACE INTO site_counts
        SELECT site, documents, now() FROM st_sites
        """
    )
    return SiteTemplateCounts(sites, lines, marked, unmarked)


def _rewrite(corpus: Corpus, rule: Rule) -> None:
    """Rewrite the documents holding a paragraph in st_changes with their new marks, and
    resolve dedup again for them and for whatever pointed into them (as a replacing load does)."""
    con = corpus.con
    rows = con.execute(
        """
        SELECT p.doc_id, d.seq, p.position, p.text, p.status, p.removed_by, p.dup_kind, p.dup_of_doc,
               p.dup_of_position, p.similarity, p.lang, p.lang_prob, c.mark
        FROM paragraphs p JOIN documents d USING (doc_id) LEFT JOIN st_changes c USING (pid)
        WHERE p.doc_id IN (SELECT doc_id FROM st_changes)
        ORDER BY p.pid
        """
    ).fetchall()
    documents: dict[str, Document] = {}
    seqs: dict[str, int] = {}
    unmarked: list[Paragraph] = []
    before: dict[str, list[Paragraph]] = {}  # each document's paragraphs as boilerplate labelling left them
    for doc_id, seq, position, text, status, removed_by, kind, dup_doc, dup_position, similarity, lang, prob, mark in rows:
        if doc_id not in documents:
            documents[doc_id], seqs[doc_id], before[doc_id] = Document(doc_id, "", "", []), seq, []
        before[doc_id].append(Paragraph(position, text, REMOVED if status == REMOVED else KEPT))
        if mark is True or (mark is None and removed_by == rule.name):
            paragraph = Paragraph(position, text, REMOVED, rule.name)
        elif status == REMOVED and removed_by != rule.name:  # another rule's removal, as it was
            paragraph = Paragraph(position, text, REMOVED, removed_by, dup_doc, dup_position, lang, prob,
                                  dup_kind=kind, similarity=similarity)
        else:  # kept, or to be resolved again: dedup decides
            paragraph = Paragraph(position, text, KEPT, lang=lang, lang_prob=prob)
            if mark is False:
                unmarked.append(paragraph)
        documents[doc_id].paragraphs.append(paragraph)
    # A kept paragraph has its language; a removed one is 'und' (as the cleaning stage leaves them).
    if unmarked:  # (the detector loads its profiles on first use, a second)
        for paragraph, (lang, prob) in zip(unmarked, detect_languages([p.text for p in unmarked])):
            paragraph.lang, paragraph.lang_prob = lang, prob
    for document in documents.values():
        sign_paragraphs(document.paragraphs)
        for paragraph in document.paragraphs:
            if paragraph.status == REMOVED and paragraph.removed_by == rule.name:
                paragraph.lang, paragraph.lang_prob = UNDETERMINED, None
    _retitle(corpus, documents, before)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE gone AS SELECT doc_id, seq FROM documents "
        "WHERE doc_id IN (SELECT doc_id FROM st_changes)"
    )
    pointing = [row[0] for row in con.execute(
        """
        SELECT DISTINCT doc_id FROM paragraphs
        WHERE status = 'duplicate' AND dup_of_doc IN (SELECT doc_id FROM gone) AND doc_id NOT IN (SELECT doc_id FROM gone)
        """
    ).fetchall()]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE gone_fingerprints AS SELECT DISTINCT fingerprint AS key "
        "FROM paragraphs WHERE doc_id IN (SELECT doc_id FROM gone) AND fingerprint IS NOT NULL"
    )
    con.execute("DELETE FROM paragraph_bands WHERE pid // ? IN (SELECT seq FROM gone)", [SEQ_SHIFT])
    con.execute("DELETE FROM paragraphs WHERE doc_id IN (SELECT doc_id FROM gone)")
    _index_firsts(con, "SELECT key FROM gone_fingerprints")
    _Resolution(con, corpus.dedup).run(list(documents.values()), seqs, pointing, replacing=True)
    corpus._refresh_documents()


def _retitle(corpus: Corpus, documents: dict[str, Document], before: dict[str, list[Paragraph]]) -> None:
    """A title taken from the first content paragraph (a text file's headline) is taken
    again once that paragraph is marked, or unmarked; a title the page gave stays."""
    titles = dict(corpus.con.execute(
        "SELECT doc_id, title FROM documents WHERE doc_id IN (SELECT doc_id FROM st_changes)"
    ).fetchall())
    changed = [(pick_title(document.paragraphs), doc_id) for doc_id, document in documents.items()
               if titles.get(doc_id) is not None and titles[doc_id] == pick_title(before[doc_id])]
    changed = [(title, doc_id) for title, doc_id in changed if title != titles[doc_id]]
    if changed:
        retitled = pa.table({"doc_id": [doc_id for _, doc_id in changed], "title": [title for title, _ in changed]},
                            schema=pa.schema([("doc_id", pa.string()), ("title", pa.string())]))
        with _registered(corpus.con, {"retitled": retitled}):
            corpus.con.execute("UPDATE documents SET title = r.title FROM retitled r WHERE documents.doc_id = r.doc_id")
