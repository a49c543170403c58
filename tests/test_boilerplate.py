"""Boilerplate rules: what each removes, what it must keep, and how users configure them."""
from __future__ import annotations

import pytest

from tasks.boilerplate import RuleError, RuleSpec, load_rules
from tasks.pipeline import clean_paragraphs

RULES = load_rules()


def fates(text: str, rules=RULES) -> list[tuple[str, str | None]]:
    return [(p.text, p.removed_by) for p in clean_paragraphs(text, rules)]


ARTICLE = (
    "The council met on Monday to discuss the new budget for the coming year, which rises by four percent.\n"
    "Members disagreed on how much should go to schools and how much to roads, and voted late in the evening."
)


@pytest.mark.parametrize(
    "line, rule",
    [
        ("Rechercher", "search_ui"),
        ("Search", "search_ui"),
        ("Suche", "search_ui"),
        ("Поиск", "search_ui"),
        ("検索", "search_ui"),
        ("Some text of a tweet about the meeting pic.twitter.com/AbC123xyz", "social_embed"),
        ("— Jane Doe (@janedoe) August 5, 2024", "social_embed"),
        ("— Marie Dupont (@mdupont) 5 août 2024", "social_embed"),
        ("The mayor at the town hall on Monday. Photo AFP", "caption_credit"),
        ("Le maire à l'hôtel de ville. Foto: dpa", "caption_credit"),
        ("Share on Facebook", "share_follow"),
        ("Partager sur X", "share_follow"),
        ("Follow us on Instagram", "share_follow"),
        ("Lire aussi : Les tensions montent au Proche-Orient", "related_links"),
        ("Read more: The budget vote explained", "related_links"),
        ("Subscribe to our newsletter for the day's top stories", "newsletter"),
        ("We use cookies to improve your experience on our site.", "cookie_consent"),
        ("Back to top", "navigation"),
        ("Page 2 of 5", "navigation"),
        ("Se connecter", "navigation"),
        ("Advertisement", "advertisement"),
        ("Anzeige", "advertisement"),
        ("© 2024 The Riverside Gazette. All rights reserved.", "copyright"),
        ("版权所有", "copyright"),
        ("Фото: ТАСС", "caption_credit"),
        ("写真：共同通信", "caption_credit"),
        ("Читайте также: Новости экономики", "related_links"),
        ("12 comments", "share_follow"),
        ("Facebook Twitter WhatsApp Email", "share_follow"),
        ("View this post on Instagram", "social_embed"),
        ("— NHK (@nhk_news) 2024年8月5日", "social_embed"),
    ],
)
def test_boilerplate_line_is_removed_by_its_rule(line: str, rule: str):
    assert (line, rule) in fates(f"{ARTICLE}\n{line}\n{ARTICLE} Again.")


@pytest.mark.parametrize(
    "content",
    [
        # mentions "search"
        "Search results are ranked by relevance, and the company says it changed the ranking last year.",
        "Rechercher un emploi prend du temps, selon les chômeurs interrogés par l'institut.",
        # ends with "..." on purpose
        "She paused, looked at the crowd, and said she would think about it...",
        # starts with "Share"
        "Share your experience in the comments below: we read every one of them before the next issue.",
        "Shares of the company fell 4% on Tuesday after the results were published.",
        # quotes a post on X
        "In a post on X, the minister wrote that \"the talks are over\" and that a vote would follow (@minister).",
        "The senator replied on X: \"We will not back down.\" Her office confirmed the post on Monday.",
        # photo mentioned inside prose
        "The photo, taken by an AFP photographer, shows the minister leaving the building.",
        # a long paragraph describing a journalist, not at the tail
        "Marie Dupont est une journaliste qui a couvert trois guerres avant de rejoindre la rédaction.",
        # an item of a list of services
        "- Advertising",
    ],
)
def test_hard_negative_stays_kept(content: str):
    text = f"{ARTICLE}\n{content}\n{ARTICLE} Again, with more words."
    assert (content, None) in fates(text)


def test_author_bio_only_at_the_tail():
    bio = "Le Staff de All Israel News est une équipe de journalistes en Israël."
    assert fates(f"{ARTICLE}\n{bio}")[-1] == (bio, "author_bio")
    assert (bio, None) in fates(f"{bio}\n{ARTICLE}")


def test_navigation_only_at_the_head():
    kicker = "Dernières Infos - Tensions régionales"
    assert fates(f"Rechercher\n{kicker}\n{ARTICLE}")[1] == (kicker, "navigation")
    assert (kicker, None) in fates(f"{ARTICLE}\n{kicker}\n{ARTICLE} More.")


def test_repeated_short_line_goes_but_a_line_said_twice_stays():
    slogan, quote = "Lire la vidéo", "« Nous ne céderons pas », a-t-il répété."
    paragraphs = fates(f"{slogan}\n{ARTICLE}\n{quote}\n{slogan}\n{ARTICLE} Bis.\n{quote}\n{slogan}")
    assert [rule for text, rule in paragraphs if text == slogan] == [None, "repeated_line", "repeated_line"]
    assert [rule for text, rule in paragraphs if text == quote] == [None, None]


def test_repeated_lines_of_code_are_content():
    code = ["from pydantic import BaseModel, Field", "class User(BaseModel):", "user = User(name='John')"]
    text = "\n".join(f"{ARTICLE}\n" + "\n".join(code) for _ in range(3))
    assert {rule for line, rule in fates(text) if line in code} == {None}


def test_truncated_repeat_points_at_its_source_even_cut_mid_word():
    first = "Le ministre a annoncé lundi une réforme des retraites qui sera présentée au Parlement en mars."
    teaser = "Le ministre a annoncé lundi une réforme des retraites qui sera prés…"
    paragraphs = clean_paragraphs(f"{first}\nAutre paragraphe de contenu assez long pour compter ici.\n{teaser}", RULES)
    assert (paragraphs[2].removed_by, paragraphs[2].dup_of_position) == ("truncated_repeat", 0)


def test_teaser_followed_by_read_more_points_at_its_source():
    first = "Le ministre a annoncé lundi une réforme des retraites qui sera présentée au Parlement en mars."
    teaser = "Le ministre a annoncé lundi une réforme des retraites… Lire la suite"
    paragraphs = clean_paragraphs(f"{first}\n{ARTICLE}\n{teaser}", RULES)
    assert (paragraphs[-1].removed_by, paragraphs[-1].dup_of_position) == ("truncated_repeat", 0)


FULL_LEDE = ("The council met on Monday to discuss the new budget. It rises by four percent, "
             "the largest increase in a decade, and goes to a vote next week.")


@pytest.mark.parametrize(
    "lede",
    [
        "The council met on Monday to discuss the new budget. It rises by four perc",  # cut mid-word
        "The council met on Monday to discuss the new budget.",  # cut after a sentence
        "The council met on Monday to discuss the new budget. It rises by four percent, the…",
    ],
)
def test_lede_at_the_top_goes_and_its_full_paragraph_stays(lede: str):
    paragraphs = clean_paragraphs(f"Budget vote next week\n{lede}\nBy Jane Doe\n{FULL_LEDE}\n{ARTICLE}", RULES)
    assert [(p.removed_by, p.dup_of_position) for p in paragraphs] == [
        (None, None), ("truncated_repeat", 3), (None, None), (None, None), (None, None), (None, None)]


@pytest.mark.parametrize(
    "text",
    [
        # a headline that begins the first paragraph stops at a word: it stays
        f"The council met on Monday to discuss the new budget\n{FULL_LEDE}",
        # the same words after the body has begun are content, not a lede
        f"{ARTICLE}\nThe council met on Monday to discuss the new budget. It rises by four perc\n{FULL_LEDE}",
    ],
)
def test_prefix_that_is_no_lede_stays(text: str):
    assert all(p.removed_by is None for p in clean_paragraphs(text, RULES))


def test_syntax_ending_in_an_ellipsis_and_brackets_is_not_a_teaser():
    syntax = "[ LATERAL ] function_name ( [ argument [, ...] ] )"
    paragraphs = clean_paragraphs(f"{ARTICLE}\n{syntax}\n{syntax} [ AS ] alias ( column_definition [, ...] )", RULES)
    assert all(p.removed_by is None for p in paragraphs)


def test_short_ellipsis_prefix_is_not_a_teaser():
    paragraphs = clean_paragraphs(f"Le ministre a annoncé lundi une réforme.\n{ARTICLE}\nLe ministre...", RULES)
    assert paragraphs[-1].removed_by is None


def test_user_rules_add_replace_and_disable(tmp_path):
    extra = tmp_path / "rules.toml"
    extra.write_text(
        'disable = ["author_bio"]\n'
        '[[rule]]\nname = "sponsor"\ndescription = "Sponsored-by lines"\n'
        "patterns = ['^sponsored by \\w+$']\nmax_chars = 40\n",
        encoding="utf-8",
    )
    rules = load_rules(RuleSpec(files=(str(extra),)))
    names = [rule.name for rule in rules]
    assert "sponsor" in names and "author_bio" not in names
    assert ("Sponsored by Acme", "sponsor") in fates(f"{ARTICLE}\nSponsored by Acme", rules)
    without = load_rules(RuleSpec(disabled=("search_ui",)))
    assert ("Rechercher", None) in fates(f"Rechercher\n{ARTICLE}", without)


def test_a_user_lexicon_replaces_the_built_in_one_for_every_rule(tmp_path):
    extra = tmp_path / "rules.toml"
    extra.write_text('[lexicon.search]\nxx = ["finden sie es"]\n', encoding="utf-8")
    rules = load_rules(RuleSpec(files=(str(extra),)))
    assert ("Finden Sie es", "search_ui") in fates(f"{ARTICLE}\nFinden Sie es\n{ARTICLE} Again.", rules)
    assert ("Search", None) in fates(f"{ARTICLE}\nSearch\n{ARTICLE} Again.", rules)


@pytest.mark.parametrize(
    "body, message",
    [
        ("[[rule]]\nname = 'broken'\npatterns = ['(unclosed']\n", "rule 'broken': bad pattern '(unclosed'"),
        ("[[rule]]\nname = 'typo'\npatern = ['x']\n", "rule 'typo': unknown keys ['patern']"),
        ("[[rule]]\nname = 'edge'\npatterns = ['x']\nwhere = 'middle'\n", "rule 'edge': unknown keys ['where']"),
        ("[[rule]]\nname = 'empty'\n", "rule 'empty': give 'patterns' (or 'head'/'tail'), 'context' or 'markup'"),
        ("[[rule]]\nname = 'both'\npatterns = ['x']\ncontext = 'truncated_repeat'\n", "rule 'both': give either"),
        ("[[rule]]\nname = 'xp'\nmarkup = ['//div']\n", "rule 'xp': each markup entry is a table with 'attr' and 'pattern'"),
        ("[[rule]]\nname = 'mk'\nmarkup = [{attr = 'class', pattern = '('}]\n", "rule 'mk': bad markup pattern '('"),
        ("[[rule]]\nname = 'at'\nmarkup = [{attr = '@class', pattern = 'x'}]\n", "rule 'at': markup 'attr' must be attribute names"),
        ("disable = ['no_such_rule']\n", "cannot disable unknown rules ['no_such_rule']"),
        ("[[rule]]\nname = 'lx'\npatterns = ['^{no_such_list}$']\n", "rule 'lx': pattern '^{no_such_list}$' names unknown lexicon 'no_such_list'"),
        ("[lexicon.search]\nen = 'search'\n", "lexicon 'search' must map languages to lists of phrases"),
        ("[[rule]\n", "cannot read rules"),
    ],
)
def test_bad_rule_file_fails_fast_naming_the_rule(tmp_path, body: str, message: str):
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(RuleError, match=None) as error:
        load_rules(RuleSpec(files=(str(path),)))
    assert message in str(error.value)
