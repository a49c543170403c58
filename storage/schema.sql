-- docmill schema, version 6 (kept in docmill_meta.schema_version).
--
-- Eight tables and a handful of views. Everything a user may query is described here;
-- the README's "Tables" section mirrors it. Statements are idempotent (IF NOT EXISTS /
-- OR REPLACE) so opening a database applies the schema without touching data.

CREATE TABLE IF NOT EXISTS docmill_meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- One row per document: a text or HTML file, a JSON Lines line, a WARC response record.
CREATE TABLE IF NOT EXISTS documents (
    doc_id        VARCHAR PRIMARY KEY,  -- stable id: 16 hex digits of BLAKE2b of the record's URL if it
                                        --   has one, else of its file URI (+ '#' + locator or id)
    seq           BIGINT NOT NULL,      -- corpus order, fixed when first loaded: the earlier wins dedup
    source        VARCHAR NOT NULL,     -- URI of the file it came from, e.g. file:///data/inbox/a.warc.gz
    locator       VARCHAR,              -- where in that file: 'line 12', 'record 3', 'member a/b.html'
    format        VARCHAR NOT NULL,     -- container chain: 'txt', 'html', 'jsonl.gz', 'warc.gz', 'zip/html'
    extractor     VARCHAR NOT NULL,     -- plain | trafilatura | trafilatura_full | page_text (tasks/records.py, Extractor)
    url           VARCHAR,              -- the page's URL (JSONL field, WARC-Target-URI, or canonical link)
    title         VARCHAR,              -- given or page title, else the first kept paragraph if a headline
    author        VARCHAR,
    published     DATE,                 -- publication date (JSONL field or page metadata)
    site_name     VARCHAR,
    description   VARCHAR,
    page_lang     VARCHAR,              -- the language the page declares (<html lang>), as written
    fetched_at    TIMESTAMPTZ,          -- when a crawler fetched it (WARC-Date)
    lang          VARCHAR NOT NULL,     -- ISO 639-1 code of the kept text, 'und' when too short to judge
    lang_prob     DOUBLE,               -- langdetect's probability for lang; NULL when 'und'
    text          VARCHAR NOT NULL,     -- final text, paragraphs joined by blank lines: the kept ones and
                                        --   those the document repeats itself (marked duplicate, kept as
                                        --   written); no boilerplate, teasers or paragraphs from other documents
    content_hash  VARCHAR NOT NULL,     -- BLAKE2b-128 of the source bytes; unchanged bytes are skipped
    n_paragraphs  INTEGER NOT NULL,     -- all paragraphs, whatever their status
    n_kept        INTEGER NOT NULL,
    n_removed     INTEGER NOT NULL,     -- labelled boilerplate (paragraphs.removed_by says why)
    n_duplicate   INTEGER NOT NULL,     -- seen earlier in this document or the corpus
    run_id        VARCHAR NOT NULL,     -- the run that last loaded or changed this document
    seen_run_id   VARCHAR NOT NULL,     -- the last run that found it in its source, changed or not
    ingested_at   TIMESTAMPTZ NOT NULL, -- first loaded
    updated_at    TIMESTAMPTZ NOT NULL, -- last (re)loaded or re-resolved
    dup_of_doc    VARCHAR,              -- when every paragraph it keeps is a duplicate (n_kept = 0,
                                        --   n_duplicate > 0): the document most of them repeat
    invalid_bytes INTEGER               -- bytes of a mostly-UTF-8 text source that were not valid UTF-8,
                                        --   each replaced by U+FFFD (version 5; NULL if loaded before)
);

-- Every paragraph of every document, removed ones included: nothing is silently deleted.
CREATE TABLE IF NOT EXISTS paragraphs (
    doc_id          VARCHAR NOT NULL,   -- documents.doc_id
    position        INTEGER NOT NULL,   -- 0-based order within the document
    text            VARCHAR NOT NULL,   -- normalised text (NFC, entities unescaped, spaces collapsed)
    status          VARCHAR NOT NULL CHECK (status IN ('kept', 'removed', 'duplicate')),
    removed_by      VARCHAR,            -- the boilerplate rule that removed it (status = 'removed')
    dup_kind        VARCHAR,            -- for status = 'duplicate', how it repeats its original: 'exact'
                                        --   (same normalised text), 'teaser' (its beginning, cut off with
                                        --   an ellipsis), 'near' (5-gram Jaccard >= the run's threshold)
    dup_of_doc      VARCHAR,            -- where it was first seen: a duplicate's original (always a kept
    dup_of_position INTEGER,            --   paragraph), or the paragraph a truncated_repeat teaser repeats
    lang            VARCHAR NOT NULL,   -- per kept paragraph; 'und' for removed or too-short ones
    lang_prob       DOUBLE,
    fingerprint     UBIGINT,            -- 64-bit hash of the normalised text; NULL if too short to dedup
    similarity      DOUBLE,             -- for duplicates: 1.0 exact; teaser: share of the original it
                                        --   repeats; near: 5-gram Jaccard similarity with the original
    pid             BIGINT,             -- corpus order: documents.seq * 2^32 + position
    prefix_fingerprint UBIGINT,         -- hash of the normalised text's first 40 characters (teaser
                                        --   lookup); NULL if shorter or removed
    long_prefix_fingerprint UBIGINT     -- of its first 80 characters: teasers that long are looked up
                                        --   by it (version 3)
);

-- The near-duplicate index: MinHash LSH band keys (20 per paragraph of 50+ normalised
-- characters that is not boilerplate). Paragraphs sharing a band key are candidates,
-- confirmed on their texts.
CREATE TABLE IF NOT EXISTS paragraph_bands (
    band  UBIGINT NOT NULL,
    pid   BIGINT NOT NULL               -- paragraphs.pid
);

-- The exact tier's index: the first occurrence, in corpus order, of each fingerprint among
-- the paragraphs that are not boilerplate (version 4). Loads look fingerprints up here, not
-- in every paragraph: repeats (a crawl's copies of a page) add nothing to it.
CREATE TABLE IF NOT EXISTS paragraph_firsts (
    fingerprint UBIGINT NOT NULL,
    pid         BIGINT NOT NULL         -- paragraphs.pid: the smallest with this fingerprint
);

-- Quality signals of each document (version 6), computed on its text that is not
-- boilerplate (duplicates of other documents included, so a document's signals do not depend
-- on what was loaded before it); replaced with the document. Documents loaded before version 6
-- have no row until re-ingested (--force). Tagged, never filtered: the views gopher_quality and
-- c4_quality apply the published thresholds. Code: tasks/quality.py.
--
-- Words, normalised as RedPajama-v2 does: the text is case-folded and its punctuation and
-- common symbols removed (tasks/quality.py, _PUNCTUATION); a word is then a maximal run of
-- characters that are neither white space nor Han, kana or Thai, and each Han or kana
-- character, and each Thai character with its following combining marks, counts as one word
-- (Chinese, Japanese and Thai do not separate words by spaces). Lines: the non-empty lines of
-- the paragraphs, stripped. N-grams are taken within a line: none spans two, so no signal
-- depends on the order of paragraphs. A share is NULL when what it divides by is zero.
CREATE TABLE IF NOT EXISTS document_quality (
    doc_id                          VARCHAR PRIMARY KEY,  -- documents.doc_id
    word_count                      INTEGER NOT NULL,  -- Gopher: number of words (50 to 100,000)
    mean_word_length                DOUBLE,   -- Gopher: mean characters per word (3 to 10)
    line_count                      INTEGER NOT NULL,
    terminal_punctuation_line_share DOUBLE,   -- C4: lines ending in . ! ? or a closing quote (and 。！？),
                                              --   RedPajama-v2 rps_lines_ending_with_terminal_punctution_mark
    bullet_line_share               DOUBLE,   -- Gopher: lines starting with a bullet (• ‣ ⁃ ◦ ▪ ▫ ■ □ ▶ ◀ – - *); <= 0.9
    ellipsis_line_share             DOUBLE,   -- Gopher: lines ending in "..." or "…"; <= 0.3
    hash_word_ratio                 DOUBLE,   -- Gopher symbol-to-word ratio: "#" characters per word; <= 0.1
    ellipsis_word_ratio             DOUBLE,   -- Gopher symbol-to-word ratio: "..." and "…" per word; <= 0.1
    non_alpha_word_share            DOUBLE,   -- Gopher: words without an alphabetic character; <= 0.2
    stop_word_count                 INTEGER,  -- Gopher: occurrences of its stop words (the, be, to, of, and,
                                              --   that, have, with; >= 2), or their counterparts in fr, de,
                                              --   es, it, pt, nl (tasks/quality.py); NULL in other languages
    duplicate_line_share            DOUBLE,   -- Gopher: lines repeating an earlier line; <= 0.3
    duplicate_line_char_share       DOUBLE,   --   and their share of the lines' characters; <= 0.2
    duplicate_paragraph_share       DOUBLE,   -- Gopher: the same for paragraphs; <= 0.3
    duplicate_paragraph_char_share  DOUBLE,   --   <= 0.2
    top_2gram_char_share            DOUBLE,   -- Gopher: characters in the most frequent n-gram (RedPajama-v2:
    top_3gram_char_share            DOUBLE,   --   of the words its occurrences cover, each once, over all words'
    top_4gram_char_share            DOUBLE,   --   characters; NULL if no n-gram); <= 0.20, 0.18, 0.16
    duplicate_5gram_char_share      DOUBLE,   -- Gopher: characters of words covered by any n-gram occurring
    duplicate_6gram_char_share      DOUBLE,   --   more than once, each word once (RedPajama-v2), over all
    duplicate_7gram_char_share      DOUBLE,   --   words' characters; <= 0.15, 0.14, 0.13, 0.12, 0.11, 0.10
    duplicate_8gram_char_share      DOUBLE,
    duplicate_9gram_char_share      DOUBLE,
    duplicate_10gram_char_share     DOUBLE,
    lorem_ipsum_count               INTEGER NOT NULL,  -- C4: "lorem ipsum", any case (C4 drops the page)
    curly_bracket_count             INTEGER NOT NULL,  -- C4: "{" and "}" (C4 drops a page with "{")
    javascript_line_count           INTEGER NOT NULL,  -- C4: lines containing "javascript" (C4 drops them)
    policy_line_count               INTEGER NOT NULL,  -- C4: lines with "terms of use", "privacy policy",
                                                       --   "cookie policy", "uses cookies", "use of cookies"
                                                       --   or "use cookies" (C4 drops them)
    c4_sentence_count               INTEGER NOT NULL   -- C4: sentences in the lines C4 keeps (ending in terminal
                                                       --   punctuation, 5+ words, neither of the two above); a
                                                       --   sentence ends at . ! ? 。！？ and a space, or at the
                                                       --   line's end (C4 drops pages with fewer than 3)
);

-- Personal data found in paragraphs (version 6): one row per span; the text is never
-- rewritten (docmill export --redact masks it). Code and its precision: tasks/pii.py,
-- bench/pii.py. Replaced with the document.
CREATE TABLE IF NOT EXISTS pii (
    doc_id    VARCHAR NOT NULL,   -- paragraphs.doc_id
    position  INTEGER NOT NULL,   -- paragraphs.position
    kind      VARCHAR NOT NULL,   -- email | phone | ipv4 | ipv6 | payment_card (Luhn-checked)
    "start"   INTEGER NOT NULL,   -- character span [start, end) in paragraphs.text, 0-based
    "end"     INTEGER NOT NULL
);

-- One row per source file read to its end: what lets an unchanged file be skipped unread.
CREATE TABLE IF NOT EXISTS sources (
    source        VARCHAR PRIMARY KEY,  -- file URI
    content_hash  VARCHAR NOT NULL,     -- BLAKE2b-128 of the file's bytes
    size          BIGINT NOT NULL,      -- bytes
    format        VARCHAR NOT NULL,
    complete      BOOLEAN NOT NULL,     -- false if reading stopped at an error (its old documents were kept)
    run_id        VARCHAR NOT NULL,     -- the run that last read it
    loaded_at     TIMESTAMPTZ NOT NULL
);

-- One row per ingest flow run.
CREATE TABLE IF NOT EXISTS runs (
    run_id              VARCHAR PRIMARY KEY,  -- the Prefect flow-run id
    run_name            VARCHAR,              -- the Prefect flow-run name
    sources             VARCHAR[] NOT NULL,   -- what the run was pointed at
    parameters          VARCHAR NOT NULL,     -- the flow's parameters, as JSON
    started_at          TIMESTAMPTZ NOT NULL,
    finished_at         TIMESTAMPTZ,
    status              VARCHAR NOT NULL,     -- running | completed | failed | interrupted (by a signal,
                                              --   or killed: closed so by the next run)
    documents_new       INTEGER NOT NULL DEFAULT 0,
    documents_updated   INTEGER NOT NULL DEFAULT 0,
    documents_unchanged INTEGER NOT NULL DEFAULT 0,
    documents_failed    INTEGER NOT NULL DEFAULT 0,
    documents_deleted   INTEGER NOT NULL DEFAULT 0,  -- gone from a source that changed
    records_skipped     INTEGER NOT NULL DEFAULT 0,  -- not documents: WARC requests, images, non-2xx
    paragraphs_kept      INTEGER NOT NULL DEFAULT 0,  -- over the documents this run loaded
    paragraphs_removed   INTEGER NOT NULL DEFAULT 0,
    paragraphs_duplicate INTEGER NOT NULL DEFAULT 0
);

-- Sources a run could not ingest, and why. The run goes on without them.
CREATE TABLE IF NOT EXISTS failures (
    run_id      VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,     -- URI or path of the source
    stage       VARCHAR NOT NULL,     -- discover | read | parse | decode | extract | clean | load
    error_type  VARCHAR NOT NULL,
    message     VARCHAR NOT NULL,     -- what went wrong, for a person (with the line or record)
    failed_at   TIMESTAMPTZ NOT NULL
);

-- Lines repeated across many documents of one site (the site_repeat rule, site_template by
-- default; storage/site_template.py): one row per line and site while it is template, with
-- the counts that made it so. Every copy on the site is removed under that rule.
CREATE TABLE IF NOT EXISTS site_templates (
    site           VARCHAR NOT NULL,  -- document_sites.site
    fingerprint    UBIGINT NOT NULL,  -- paragraphs.fingerprint of its copies
    text           VARCHAR NOT NULL,  -- its first copy's text
    documents      INTEGER NOT NULL,  -- the site's documents holding it
    site_documents INTEGER NOT NULL,  -- the site's documents (copies of another document not counted)
    rule           VARCHAR NOT NULL,  -- the rule that marked its copies (paragraphs.removed_by)
    run_id         VARCHAR NOT NULL   -- the run that last counted it
);

-- Each site's documents when its lines were last counted: a site is counted again once one
-- of its documents is loaded or re-resolved after that, or its number of documents changed.
CREATE TABLE IF NOT EXISTS site_counts (
    site       VARCHAR PRIMARY KEY,
    documents  INTEGER NOT NULL,       -- as site_templates.site_documents
    updated_at TIMESTAMPTZ NOT NULL    -- when counted
);

-- Views: the obvious questions in one SELECT.

-- Documents with any text left, as a corpus consumer wants them.
CREATE OR REPLACE VIEW clean_documents AS
SELECT doc_id, source, locator, url, title, author, published, site_name, lang, lang_prob, text, n_kept, updated_at
FROM documents
WHERE n_kept > 0;

-- Each distinct kept paragraph once (its first occurrence), with its document.
CREATE OR REPLACE VIEW unique_paragraphs AS
SELECT p.doc_id, p.position, p.text, p.lang, p.lang_prob, d.source, d.title
FROM paragraphs p JOIN documents d USING (doc_id)
WHERE p.status = 'kept';

-- Why did this line go? Every removed paragraph with its rule and document.
CREATE OR REPLACE VIEW removals AS
SELECT p.removed_by AS rule, p.text, d.source, p.doc_id, p.position, p.dup_of_doc, p.dup_of_position
FROM paragraphs p JOIN documents d USING (doc_id)
WHERE p.status = 'removed';

-- How much each boilerplate rule removed, and an example.
CREATE OR REPLACE VIEW boilerplate_by_rule AS
SELECT removed_by AS rule, count(*) AS paragraphs, count(DISTINCT doc_id) AS documents,
       min(text) AS example
FROM paragraphs
WHERE status = 'removed'
GROUP BY removed_by
ORDER BY paragraphs DESC, rule;

-- Duplicates by kind, with how many stayed within their document.
CREATE OR REPLACE VIEW duplicates_by_kind AS
SELECT dup_kind, count(*) AS paragraphs,
       count(*) FILTER (WHERE dup_of_doc = doc_id) AS within_document,
       count(*) FILTER (WHERE dup_of_doc <> doc_id) AS across_documents
FROM paragraphs
WHERE status = 'duplicate'
GROUP BY dup_kind
ORDER BY paragraphs DESC;

-- Documents and kept paragraphs per language.
CREATE OR REPLACE VIEW languages AS
SELECT lang, count(*) AS documents, sum(n_kept) AS kept_paragraphs
FROM documents
GROUP BY lang
ORDER BY documents DESC, lang;

-- Runs, newest first, with their failure counts.
CREATE OR REPLACE VIEW run_history AS
SELECT r.run_id, r.run_name, r.status, r.started_at, r.finished_at,
       r.finished_at - r.started_at AS duration,
       r.documents_new, r.documents_updated, r.documents_unchanged, r.documents_failed,
       r.documents_deleted, r.records_skipped,
       r.paragraphs_kept, r.paragraphs_removed, r.paragraphs_duplicate, r.sources
FROM runs r
ORDER BY r.started_at DESC;

-- Views for ad-hoc questions (docmill query / stats).

-- Each document with the site it comes from: its URL's host (without "www."), else its
-- site name, else the folder of its source file (a local crawl or export's directory).
CREATE OR REPLACE VIEW document_sites AS
SELECT doc_id,
       coalesce(nullif(regexp_extract(lower(url), '^[a-z][a-z0-9+.-]*://(?:www\.)?([^/:?#]+)', 1), ''),
                site_name, regexp_replace(source, '/[^/]*$', '')) AS site,
       source, title, lang, n_kept, n_removed, n_duplicate
FROM documents;

-- Per site: documents, paragraphs by fate, the share removed as boilerplate, and the
-- site's usual language (the commonest among its documents that have one).
CREATE OR REPLACE VIEW sites AS
SELECT site, count(*) AS documents,
       sum(n_kept)::BIGINT AS kept_paragraphs, sum(n_removed)::BIGINT AS removed_paragraphs,
       sum(n_duplicate)::BIGINT AS duplicate_paragraphs,
       round(sum(n_removed) / nullif(sum(n_kept + n_removed + n_duplicate), 0), 3) AS removed_share,
       mode(lang) FILTER (WHERE lang <> 'und') AS usual_lang
FROM document_sites
GROUP BY site
ORDER BY removed_paragraphs DESC, site;

-- Boilerplate removed, by rule and by the language of the document it came from.
CREATE OR REPLACE VIEW boilerplate_by_rule_and_language AS
SELECT p.removed_by AS rule, d.lang, count(*) AS paragraphs, count(DISTINCT p.doc_id) AS documents
FROM paragraphs p JOIN documents d USING (doc_id)
WHERE p.status = 'removed'
GROUP BY ALL
ORDER BY rule, paragraphs DESC, lang;

-- Each paragraph the corpus holds more than once: the original (the copy kept), how many
-- copies there are in all, and in how many documents.
CREATE OR REPLACE VIEW repeated_paragraphs AS
SELECT o.doc_id, o.position, o.text, count(*) + 1 AS copies,
       count(DISTINCT d.doc_id) FILTER (WHERE d.doc_id <> o.doc_id) + 1 AS documents
FROM paragraphs d JOIN paragraphs o ON o.doc_id = d.dup_of_doc AND o.position = d.dup_of_position
WHERE d.status = 'duplicate'
GROUP BY o.doc_id, o.position, o.text
ORDER BY copies DESC, documents DESC, o.doc_id, o.position;

-- Runs per day (of their start, in the session's time zone) and what they changed.
CREATE OR REPLACE VIEW runs_by_day AS
SELECT started_at::DATE AS day, count(*) AS runs, count(*) FILTER (WHERE status = 'failed') AS failed_runs,
       sum(documents_new)::BIGINT AS documents_new, sum(documents_updated)::BIGINT AS documents_updated,
       sum(documents_deleted)::BIGINT AS documents_deleted, sum(documents_failed)::BIGINT AS documents_failed,
       sum(paragraphs_kept)::BIGINT AS paragraphs_kept
FROM runs
GROUP BY day
ORDER BY day DESC;

-- Failures by stage: how many, from how many sources and runs, the latest, and an example.
CREATE OR REPLACE VIEW failures_by_stage AS
SELECT stage, count(*) AS failures, count(DISTINCT source) AS sources, count(DISTINCT run_id) AS runs,
       max(failed_at) AS last_failed_at, min(message) AS example
FROM failures
GROUP BY stage
ORDER BY failures DESC, stage;


-- Quality views: the published thresholds, one row per document and rule it fails, with the
-- value that fails it. Change a threshold by replacing the view. Gopher's were set on English:
-- in Chinese, Japanese or Thai, every word is one character and fails its mean word length.

-- What Gopher's quality and repetition filters (Rae et al. 2021, appendix A) would drop, and why.
CREATE OR REPLACE VIEW gopher_quality AS
SELECT doc_id, rule, value
FROM (
    SELECT doc_id, unnest([
        {'rule': 'word_count_below_50', 'value': word_count::DOUBLE, 'fails': word_count < 50},
        {'rule': 'word_count_above_100000', 'value': word_count::DOUBLE, 'fails': word_count > 100000},
        {'rule': 'mean_word_length_below_3', 'value': mean_word_length, 'fails': mean_word_length < 3},
        {'rule': 'mean_word_length_above_10', 'value': mean_word_length, 'fails': mean_word_length > 10},
        {'rule': 'hash_word_ratio_above_0.1', 'value': hash_word_ratio, 'fails': hash_word_ratio > 0.1},
        {'rule': 'ellipsis_word_ratio_above_0.1', 'value': ellipsis_word_ratio, 'fails': ellipsis_word_ratio > 0.1},
        {'rule': 'bullet_line_share_above_0.9', 'value': bullet_line_share, 'fails': bullet_line_share > 0.9},
        {'rule': 'ellipsis_line_share_above_0.3', 'value': ellipsis_line_share, 'fails': ellipsis_line_share > 0.3},
        {'rule': 'non_alpha_word_share_above_0.2', 'value': non_alpha_word_share,
         'fails': non_alpha_word_share > 0.2},
        {'rule': 'stop_words_below_2', 'value': stop_word_count::DOUBLE, 'fails': stop_word_count < 2},
        {'rule': 'duplicate_line_share_above_0.3', 'value': duplicate_line_share,
         'fails': duplicate_line_share > 0.3},
        {'rule': 'duplicate_paragraph_share_above_0.3', 'value': duplicate_paragraph_share,
         'fails': duplicate_paragraph_share > 0.3},
        {'rule': 'duplicate_line_char_share_above_0.2', 'value': duplicate_line_char_share,
         'fails': duplicate_line_char_share > 0.2},
        {'rule': 'duplicate_paragraph_char_share_above_0.2', 'value': duplicate_paragraph_char_share,
         'fails': duplicate_paragraph_char_share > 0.2},
        {'rule': 'top_2gram_char_share_above_0.2', 'value': top_2gram_char_share, 'fails': top_2gram_char_share > 0.2},
        {'rule': 'top_3gram_char_share_above_0.18', 'value': top_3gram_char_share,
         'fails': top_3gram_char_share > 0.18},
        {'rule': 'top_4gram_char_share_above_0.16', 'value': top_4gram_char_share,
         'fails': top_4gram_char_share > 0.16},
        {'rule': 'duplicate_5gram_char_share_above_0.15', 'value': duplicate_5gram_char_share,
         'fails': duplicate_5gram_char_share > 0.15},
        {'rule': 'duplicate_6gram_char_share_above_0.14', 'value': duplicate_6gram_char_share,
         'fails': duplicate_6gram_char_share > 0.14},
        {'rule': 'duplicate_7gram_char_share_above_0.13', 'value': duplicate_7gram_char_share,
         'fails': duplicate_7gram_char_share > 0.13},
        {'rule': 'duplicate_8gram_char_share_above_0.12', 'value': duplicate_8gram_char_share,
         'fails': duplicate_8gram_char_share > 0.12},
        {'rule': 'duplicate_9gram_char_share_above_0.11', 'value': duplicate_9gram_char_share,
         'fails': duplicate_9gram_char_share > 0.11},
        {'rule': 'duplicate_10gram_char_share_above_0.1', 'value': duplicate_10gram_char_share,
         'fails': duplicate_10gram_char_share > 0.1}
    ], recursive := true)
    FROM document_quality
)
WHERE fails;

-- What C4's page rules (Raffel et al. 2020) would drop, and why. (C4's line rules cut lines,
-- not pages: terminal_punctuation_line_share, javascript_line_count and policy_line_count say
-- how much.)
CREATE OR REPLACE VIEW c4_quality AS
SELECT doc_id, rule, value
FROM (
    SELECT doc_id, unnest([
        {'rule': 'lorem_ipsum', 'value': lorem_ipsum_count::DOUBLE, 'fails': lorem_ipsum_count > 0},
        {'rule': 'curly_bracket', 'value': curly_bracket_count::DOUBLE, 'fails': curly_bracket_count > 0},
        {'rule': 'sentences_below_3', 'value': c4_sentence_count::DOUBLE, 'fails': c4_sentence_count < 3}
    ], recursive := true)
    FROM document_quality
)
WHERE fails;

-- clean_documents that have quality signals and pass both Gopher's and C4's page rules.
CREATE OR REPLACE VIEW quality_documents AS
SELECT c.*
FROM clean_documents c SEMI JOIN document_quality q USING (doc_id)
WHERE c.doc_id NOT IN (SELECT doc_id FROM gopher_quality UNION ALL SELECT doc_id FROM c4_quality);

-- Personal data found, by kind: spans, and in how many documents.
CREATE OR REPLACE VIEW pii_by_kind AS
SELECT kind, count(*) AS spans, count(DISTINCT doc_id) AS documents
FROM pii
GROUP BY kind
ORDER BY spans DESC, kind;

-- Each document's final text (documents.text) with its personal data masked: every span
-- replaced by its kind in brackets ("[email]"); only documents that hold some. What
-- docmill export --redact writes.
CREATE OR REPLACE VIEW redacted_texts AS
WITH spans AS (
    SELECT doc_id, position, kind, "start", "end",
           coalesce(lag("end") OVER (PARTITION BY doc_id, position ORDER BY "start"), 0) AS after
    FROM pii
), redacted_paragraphs AS (
    SELECT p.doc_id, p.position,
           string_agg(substr(p.text, s.after + 1, s."start" - s.after) || '[' || s.kind || ']', '' ORDER BY s."start")
               || substr(p.text, max(s."end") + 1) AS text
    FROM paragraphs p JOIN spans s USING (doc_id, position)
    GROUP BY p.doc_id, p.position, p.text
)
SELECT p.doc_id,
       string_agg(coalesce(r.text, p.text), chr(10) || chr(10) ORDER BY p.position)
           -- as documents.text: kept paragraphs, and the document's own repeats
           FILTER (WHERE p.status = 'kept' OR (p.status = 'duplicate' AND p.dup_of_doc = p.doc_id
                                               AND p.dup_kind <> 'teaser')) AS text
FROM paragraphs p LEFT JOIN redacted_paragraphs r USING (doc_id, position)
WHERE p.doc_id IN (SELECT doc_id FROM pii)
GROUP BY p.doc_id;

-- What is failing now: each source's failures in the latest run that reported it, unless a
-- later completed run read it without failing or looked at the same sources and did not
-- report it (fixed, or gone). A bad file is read again by every run while it stays.
CREATE OR REPLACE VIEW failing_now AS
WITH latest AS (
    SELECT f.source, f.stage, f.error_type, f.message, f.failed_at, f.run_id,
           r.started_at AS run_started_at, r.sources AS run_sources
    FROM failures f JOIN runs r USING (run_id)
    QUALIFY dense_rank() OVER (PARTITION BY f.source ORDER BY r.started_at DESC, f.run_id) = 1
)
SELECT source, stage, error_type, message, failed_at, run_id
FROM latest l
WHERE NOT EXISTS (
    SELECT 1 FROM runs later
    WHERE later.started_at > l.run_started_at AND later.status = 'completed'
      AND (later.sources = l.run_sources
           OR EXISTS (SELECT 1 FROM sources s WHERE s.run_id = later.run_id
                      AND (s.source = l.source OR starts_with(l.source, s.source || ' ('))))
)
ORDER BY stage, source;

-- Paragraphs removed as a site's template text, with the counts that made the line template:
-- in how many of the site's documents it is, of how many.
CREATE OR REPLACE VIEW site_template_removals AS
SELECT p.removed_by AS rule, p.text, t.documents, t.site_documents, s.site, s.source, p.doc_id, p.position
FROM paragraphs p JOIN document_sites s USING (doc_id)
     JOIN site_templates t ON t.site = s.site AND t.fingerprint = p.fingerprint AND t.rule = p.removed_by
WHERE p.status = 'removed';
