"""Near-duplicate paragraph detection: a labelled development set, its quality and its cost.

    .venv/bin/python bench/neardup.py --paragraphs 100000
    .venv/bin/python bench/neardup.py --paragraphs 1000000
    .venv/bin/python bench/neardup.py --write-fixture tests/fixtures/neardup/devset.jsonl --documents 160

The development set, generated:

News-like paragraphs in six languages (English, French, German, Spanish, Chinese,
Japanese), built from sentence frames with named slots and a random clause of common
words, so two independent paragraphs share topic words but not their sentences. Later
documents repeat earlier paragraphs with one perturbation each, labelled with its kind
and with the original it repeats; hard negatives look alike but are different paragraphs.

Deterministic for a given seed. Streams documents: memory holds a bounded pool of recent
originals, whatever the number of paragraphs.

The run loads the set through the real load path (``Corpus.load_batch``, in groups of
``LOAD_GROUP_PARAGRAPHS`` paragraphs or ``LOAD_GROUP_CHARACTERS`` characters as the ingest
flow's writer does, each document
signed first, as workers do; the writer resolves every paragraph, within its document too),
then prints precision, recall and F1 per perturbation kind (scored in SQL against the
labels), CPU-seconds per million paragraphs for the workers' share (signatures) and the
writer's (the whole load_batch, DuckDB's threads included), peak RSS
at a tenth, half and the end (it must not grow with the corpus: the index lives in DuckDB), and
DuckDB bytes per paragraph for the index.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.corpus import LOAD_GROUP_CHARACTERS, LOAD_GROUP_PARAGRAPHS, MAX_VACUUM_TASKS, Corpus  # noqa: E402
from tasks.dedup import TIERS, DedupParams, sign_paragraphs  # noqa: E402
from tasks.neardup import DEFAULT_NEAR_THRESHOLD  # noqa: E402
from tasks.normalize import normalize_text  # noqa: E402
from tasks.records import BatchResult, Document, Paragraph  # noqa: E402

# --- language material -------------------------------------------------------------------

# Each language: a joiner (" " or "" for Chinese and Japanese), slot fillers, a clause
# vocabulary, sentence frames ({p} person, {o} organisation, {c} city, {d} day, {x} topic,
# {n} a number, {q} a clause), a quote frame, and tails a site glues onto a paragraph.
LANGS: dict[str, dict] = {
    "en": dict(
        joiner=" ",
        p=["Maria Lopez", "John Carter", "Aisha Khan", "Peter Novak", "Linda Berg", "Omar Haddad", "Sarah Mills",
           "David Chen", "Emma Clarke", "Lucas Moreau", "Nina Petrova", "Tom Walsh"],
        o=["the European Commission", "the central bank", "the city council", "the health ministry",
           "the transport authority", "the United Nations", "the energy regulator", "the teachers' union"],
        c=["Brussels", "London", "Madrid", "Berlin", "Warsaw", "Lisbon", "Dublin", "Vienna", "Athens", "Prague"],
        d=["on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday", "last week", "over the weekend"],
        x=["the budget", "the housing plan", "energy prices", "the new railway", "school funding", "the water supply",
           "the tax reform", "hospital waiting lists", "the climate law", "public transport"],
        vocab=("people families workers costs prices schools hospitals plans rules services money time region "
               "country government officials experts companies markets homes streets roads trains buses weeks "
               "months years changes problems reports figures results questions answers voters patients doctors "
               "teachers students farmers drivers tenants owners councils courts judges police crowds new old "
               "higher lower local national public private rising falling early late more fewer several many "
               "again still already soon now later quickly slowly openly quietly").split(),
        frames=["{p} said {d} that {x} would {q}.", "Officials in {c} warned {d} that {q}.",
                "{o} confirmed that {x} had been delayed because {q}.",
                "According to {o}, {n} people in {c} were affected as {q}.",
                "The decision on {x} was taken {d} after {q}.", "Critics of {x} argued that {q}.",
                "In {c}, {p} told reporters that {q}.", "{o} plans to spend {n} million euros on {x} while {q}.",
                "Residents of {c} have complained for {n} weeks that {q}.",
                "A spokesperson for {o} said {x} remained a priority and that {q}."],
        quote="{p} said: \"{q}, and {q}.\"",
        tails=["Read more", "Read more »", "Continue reading", "Share this article",
               "Share on Facebook Share on Twitter", "Click here for the full story"],
    ),
    "fr": dict(
        joiner=" ",
        p=["Marie Dubois", "Jean Martin", "Sophie Lefèvre", "Karim Benali", "Claire Fontaine", "Luc Girard",
           "Camille Roux", "Paul Mercier", "Inès Garnier", "Hugo Lambert", "Léa Bonnet", "Nicolas Faure"],
        o=["la Commission européenne", "la banque centrale", "le conseil municipal", "le ministère de la Santé",
           "la SNCF", "l'ONU", "le régulateur de l'énergie", "le syndicat des enseignants"],
        c=["Paris", "Lyon", "Marseille", "Toulouse", "Bordeaux", "Lille", "Nantes", "Strasbourg", "Rennes", "Nice"],
        d=["lundi", "mardi", "mercredi", "jeudi", "vendredi", "la semaine dernière", "ce week-end"],
        x=["le budget", "le plan logement", "les prix de l'énergie", "la nouvelle ligne", "les écoles",
           "l'eau potable", "la réforme fiscale", "les urgences", "la loi climat", "les transports publics"],
        vocab=("les familles les salariés les coûts les prix les écoles les hôpitaux le plan les règles les services "
               "l'argent le temps la région le pays le gouvernement les élus les experts les entreprises les marchés "
               "les logements les rues les routes les trains les bus des semaines des mois des années des changements "
               "des problèmes un rapport des chiffres des résultats des questions les électeurs les patients les "
               "médecins les enseignants les étudiants les agriculteurs nouveau ancien plus moins local national "
               "public privé encore déjà bientôt maintenant vite lentement").split(),
        frames=["{p} a déclaré {d} que {x} allait {q}.", "Les responsables de {c} ont averti {d} que {q}.",
                "{o} a confirmé que {x} avait été retardé parce que {q}.",
                "Selon {o}, {n} personnes à {c} sont concernées alors que {q}.",
                "La décision sur {x} a été prise {d} après que {q}.", "Les critiques de {x} estiment que {q}.",
                "À {c}, {p} a indiqué aux journalistes que {q}.",
                "{o} prévoit de dépenser {n} millions d'euros pour {x} tandis que {q}.",
                "Les habitants de {c} se plaignent depuis {n} semaines que {q}.",
                "Un porte-parole de {o} a assuré que {x} restait une priorité et que {q}."],
        quote="{p} a déclaré : « {q}, et {q}. »",
        tails=["Lire la suite", "Lire aussi", "Partager sur Facebook", "Partager cet article"],
    ),
    "de": dict(
        joiner=" ",
        p=["Anna Schmidt", "Thomas Müller", "Julia Weber", "Stefan Wagner", "Laura Becker", "Markus Hoffmann",
           "Katrin Schulz", "Jonas Koch", "Lena Richter", "Felix Wolf", "Sabine Neumann", "Tobias Braun"],
        o=["die EU-Kommission", "die Zentralbank", "der Stadtrat", "das Gesundheitsministerium", "die Bahn",
           "die Vereinten Nationen", "die Netzagentur", "die Lehrergewerkschaft"],
        c=["Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Stuttgart", "Leipzig", "Dresden", "Bremen", "Hannover"],
        d=["am Montag", "am Dienstag", "am Mittwoch", "am Donnerstag", "am Freitag", "vergangene Woche", "am Wochenende"],
        x=["der Haushalt", "der Wohnungsplan", "die Energiepreise", "die neue Bahnstrecke", "die Schulen",
           "die Wasserversorgung", "die Steuerreform", "die Notaufnahmen", "das Klimagesetz", "der Nahverkehr"],
        vocab=("Familien Arbeitnehmer Kosten Preise Schulen Kliniken Pläne Regeln Dienste Geld Zeit Region Land "
               "Regierung Beamte Experten Firmen Märkte Wohnungen Straßen Züge Busse Wochen Monate Jahre Änderungen "
               "Probleme Berichte Zahlen Ergebnisse Fragen Wähler Patienten Ärzte Lehrer Studenten Landwirte neue "
               "alte höhere niedrigere lokale öffentliche private wieder noch bereits bald jetzt später schnell "
               "langsam deutlich").split(),
        frames=["{p} sagte {d}, {x} werde {q}.", "Beamte in {c} warnten {d}, dass {q}.",
                "{o} bestätigte, dass {x} sich verzögert habe, weil {q}.",
                "Nach Angaben von {o} sind {n} Menschen in {c} betroffen, während {q}.",
                "Die Entscheidung über {x} fiel {d}, nachdem {q}.", "Kritiker sagen über {x}, dass {q}.",
                "In {c} sagte {p} vor Journalisten, dass {q}.",
                "{o} will {n} Millionen Euro für {x} ausgeben, während {q}.",
                "Anwohner in {c} beklagen seit {n} Wochen, dass {q}.",
                "Ein Sprecher von {o} sagte, {x} bleibe eine Priorität und {q}."],
        quote="{p} sagte: „{q}, und {q}.“",
        tails=["Weiterlesen", "Mehr lesen", "Auf Facebook teilen", "Artikel teilen"],
    ),
    "es": dict(
        joiner=" ",
        p=["Lucía García", "Javier Fernández", "Carmen Ruiz", "Pablo Sánchez", "Elena Torres", "Diego Romero",
           "Marta Navarro", "Sergio Molina", "Ana Castillo", "Raúl Ortega", "Isabel Rubio", "Andrés Vega"],
        o=["la Comisión Europea", "el banco central", "el ayuntamiento", "el Ministerio de Sanidad", "Renfe",
           "la ONU", "el regulador energético", "el sindicato de profesores"],
        c=["Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Málaga", "Zaragoza", "Granada", "Vigo", "Murcia"],
        d=["el lunes", "el martes", "el miércoles", "el jueves", "el viernes", "la semana pasada", "el fin de semana"],
        x=["el presupuesto", "el plan de vivienda", "los precios de la energía", "la nueva línea", "las escuelas",
           "el agua potable", "la reforma fiscal", "las urgencias", "la ley del clima", "el transporte público"],
        vocab=("las familias los trabajadores los costes los precios las escuelas los hospitales el plan las normas "
               "los servicios el dinero el tiempo la región el país el gobierno los funcionarios los expertos las "
               "empresas los mercados las viviendas las calles las carreteras los trenes los autobuses semanas meses "
               "años cambios problemas informes cifras resultados preguntas votantes pacientes médicos profesores "
               "estudiantes agricultores nuevo viejo más menos local nacional público privado otra vez todavía ya "
               "pronto ahora rápido despacio").split(),
        frames=["{p} dijo {d} que {x} iba a {q}.", "Los responsables de {c} advirtieron {d} que {q}.",
                "{o} confirmó que {x} se había retrasado porque {q}.",
                "Según {o}, {n} personas en {c} están afectadas mientras {q}.",
                "La decisión sobre {x} se tomó {d} después de que {q}.", "Los críticos de {x} sostienen que {q}.",
                "En {c}, {p} dijo a los periodistas que {q}.",
                "{o} prevé gastar {n} millones de euros en {x} mientras {q}.",
                "Los vecinos de {c} se quejan desde hace {n} semanas de que {q}.",
                "Un portavoz de {o} afirmó que {x} sigue siendo una prioridad y que {q}."],
        quote="{p} afirmó: «{q}, y {q}».",
        tails=["Leer más", "Seguir leyendo", "Compartir en Facebook", "Compartir este artículo"],
    ),
    "zh": dict(
        joiner="",
        p=["王伟", "李娜", "张强", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴芳", "徐涛", "孙丽"],
        o=["欧盟委员会", "中央银行", "市政府", "卫生部", "铁路公司", "联合国", "能源监管机构", "教师工会"],
        c=["北京", "上海", "广州", "深圳", "成都", "杭州", "武汉", "西安", "南京", "重庆"],
        d=["周一", "周二", "周三", "周四", "周五", "上周", "周末"],
        x=["财政预算", "住房计划", "能源价格", "新铁路", "学校经费", "供水系统", "税制改革", "医院排队", "气候法案", "公共交通"],
        vocab=("居民 家庭 工人 成本 价格 学校 医院 计划 规则 服务 资金 时间 地区 国家 政府 官员 专家 企业 市场 住房 街道 "
               "道路 列车 公交 几周 几个月 多年 变化 问题 报告 数据 结果 疑问 选民 病人 医生 教师 学生 农民 司机 租户 "
               "明显 继续 已经 很快 现在 随后 大幅 逐步 公开 再次 上涨 下降 增加 减少 推迟 提高 支持 反对").split(),
        frames=["{p}{d}表示，{x}将会{q}。", "{c}官员{d}警告说，{q}。", "{o}证实，{x}已经推迟，因为{q}。",
                "据{o}称，{c}有{n}人受到影响，同时{q}。", "关于{x}的决定在{d}作出，此前{q}。",
                "批评者认为{x}{q}。", "{p}在{c}对记者说，{q}。", "{o}计划投入{n}亿元用于{x}，而{q}。",
                "{c}居民已经抱怨了{n}周，{q}。", "{o}发言人说，{x}仍是重点，{q}。"],
        quote="{p}说：“{q}，{q}。”",
        tails=["阅读全文", "阅读更多", "分享到微信", "点击查看详情"],
    ),
    "ja": dict(
        joiner="",
        p=["佐藤一郎", "鈴木花子", "高橋健", "田中美咲", "伊藤大輔", "渡辺由美", "山本翔", "中村愛", "小林誠",
           "加藤結衣", "吉田拓也", "山田恵"],
        o=["欧州委員会", "中央銀行", "市議会", "厚生労働省", "鉄道会社", "国連", "エネルギー規制当局", "教職員組合"],
        c=["東京", "大阪", "名古屋", "札幌", "福岡", "神戸", "京都", "横浜", "仙台", "広島"],
        d=["月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "先週", "週末"],
        x=["予算案", "住宅計画", "電気料金", "新しい路線", "学校の予算", "水道事業", "税制改革", "病院の待ち時間",
           "気候法案", "公共交通"],
        vocab=("住民が 家族の 労働者が 費用を 価格が 学校で 病院に 計画を 規則が サービスの 資金を 時間が 地域の "
               "国の 政府は 当局者が 専門家は 企業が 市場で 住宅の 道路を 列車が バスの 数週間 数か月 数年 変化が "
               "問題を 報告書で 数字が 結果を 質問に 有権者の 患者が 医師は 教師が 学生の 農家が 運転手が さらに "
               "すでに まもなく 現在 その後 大きく 徐々に 再び 上昇し 減少し 延期され 支持し 反対し 見直し").split(),
        frames=["{p}氏は{d}、{x}について{q}と述べた。", "{c}の当局者は{d}、{q}と警告した。",
                "{o}は、{x}が遅れていると確認し、{q}と説明した。", "{o}によると、{c}では{n}人が影響を受け、{q}という。",
                "{x}に関する決定は{d}に下され、{q}。", "批判的な人々は{x}について{q}と主張している。",
                "{p}氏は{c}で記者団に対し、{q}と語った。", "{o}は{x}に{n}億円を投じる計画だが、{q}。",
                "{c}の住民は{n}週間にわたり{q}と訴えている。", "{o}の報道官は、{x}は引き続き優先課題であり、{q}と述べた。"],
        quote="{p}氏は「{q}、{q}」と語った。",
        tails=["続きを読む", "もっと見る", "この記事をシェア", "詳しくはこちら"],
    ),
}

# Clause words in the languages written with spaces: the vocabulary above (its common
# words) mixed with a generated lexicon, Zipf-distributed, so that two unrelated paragraphs
# share about as many character 5-grams as real news paragraphs do (median Jaccard 0.007,
# 99th percentile 0.044 over 3,395 paragraphs of the article-extraction benchmark). With
# the vocabulary alone, unrelated paragraphs would look ten times more alike than real ones.
_SYLLABLES = {
    "en": "ba be bi bo bu ca co cu da de di do fa fe fi fo ga go gu ha he hi ho la le li lo lu ma me mi mo "
          "na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to va ve wa we ya str th sh ch ing er "
          "ly ment tion ous",
    "fr": "ba bé bi bo ca ce co cu da dé di do fa fé fi fo ga gé go ja jo la lé li lo lu ma mé mi mo na né "
          "ni no pa pé pi po ra ré ri ro sa sé si so ta té ti to va vé vi ou eau ion ment eur ette ais",
    "de": "ba be bi bo da de di do fa fe fi fo ga ge gi go ha he hi ho ka ke ki ko la le li lo ma me mi mo "
          "na ne ni no pa pe ra re ri ro sa se si so ta te ti to wa we wi wo ä ö ü sch ung heit keit lich",
    "es": "ba be bi bo ca ce co cu da de di do fa fe fi fo ga ge go ja jo la le li lo lu ma me mi mo na ne "
          "ni no ña ño pa pe pi po ra re ri ro sa se si so ta te ti to va ve vi ción dad mente ía ás",
}
_LEXICON_SIZE = 20000


def _lexicon(lang: str) -> tuple[list[str], list[float]]:
    """The clause words of a space-separated language and their cumulative Zipf weights."""
    rng = random.Random(lang)
    syllables = _SYLLABLES[lang].split()
    made = {"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(_LEXICON_SIZE)}
    words = LANGS[lang]["vocab"] + sorted(made)
    weights = [1 / (rank + 100) for rank in range(len(words))]
    total, cumulative = 0.0, []
    for weight in weights:
        total += weight
        cumulative.append(total)
    return words, cumulative


_LEXICONS = {lang: _lexicon(lang) for lang in _SYLLABLES}

# Perturbations that make a duplicate, and the hard negatives that must stay originals.
DUPLICATE_KINDS = ("exact", "normalised", "tail", "teaser", "edit_1", "edit_2", "edit_3", "reorder", "mixed")
NEGATIVE_KINDS = ("same_topic", "shared_quote", "template_numbers")
KIND_WEIGHTS = {"original": 40, "exact": 5, "normalised": 5, "tail": 5, "teaser": 6, "edit_1": 5, "edit_2": 5,
                "edit_3": 5, "reorder": 4, "mixed": 4, "same_topic": 6, "shared_quote": 5, "template_numbers": 5}

_QUOTE_SWAPS = [("\"", "“"), ("'", "’"), ("«", "\""), ("»", "\""), ("„", "\""), ("“", "\""), ("”", "\""),
                ("「", "“"), ("」", "”"), ("，", ","), ("、", ",")]
_ENTITIES = [("'", "&#39;"), ("\"", "&quot;"), ("’", "&rsquo;"), ("“", "&ldquo;"), ("&", "&amp;"), ("é", "&eacute;")]
_TEASER_MARKS = ["…", "...", " …", " [...]", "……"]


@dataclass(slots=True)
class Sentence:
    words: list[str]  # tokens; joined with the language's joiner
    numbers: list[str]  # the numbers it holds, so a negative can change them


@dataclass(slots=True)
class Original:
    """A paragraph that later ones may repeat: where it is, and how it was built."""

    family: int
    doc: str
    position: int
    lang: str
    sentences: list[Sentence]
    slots: dict[str, str]
    quote: Sentence | None  # a long quote among its sentences, for shared_quote negatives
    # Hard negatives made from it, by text: drawing the same one twice (the same changed
    # numbers) makes two copies of one paragraph, which are duplicates of each other.
    negatives: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Label:
    """What a paragraph is: an original of its own family; a duplicate of kind ``kind``
    repeating ``of`` = (doc, position) (same family); or a hard negative of kind ``kind``,
    an original of its own family that imitates ``of``."""

    kind: str
    family: int
    of: tuple[str, int] | None = None


def _text(lang: str, sentences: list[Sentence]) -> str:
    joiner = LANGS[lang]["joiner"]
    return joiner.join(joiner.join(s.words) for s in sentences)


class DevSet:
    """Streams labelled documents: ``for name, paragraphs, labels in DevSet(seed).documents(n)``."""

    def __init__(self, seed: int = 1, pool_size: int = 5_000):
        self.rng = random.Random(seed)
        self.pools: dict[str, list[Original]] = {lang: [] for lang in LANGS}  # recent originals, per language
        self.pool_size = pool_size
        self.families = 0

    # --- building text ------------------------------------------------------------------

    def _clause(self, lang: str) -> list[str]:
        if lang in _LEXICONS:
            words, cumulative = _LEXICONS[lang]
            return self.rng.choices(words, cum_weights=cumulative, k=self.rng.randint(6, 14))
        # Chinese and Japanese words here are two or three characters: more of them per clause.
        return self.rng.choices(LANGS[lang]["vocab"], k=self.rng.randint(10, 20))

    def _sentence(self, lang: str, slots: dict[str, str], frame: str | None = None) -> Sentence:
        bank, rng = LANGS[lang], self.rng
        numbers: list[str] = []
        words: list[str] = []
        for chunk in (frame or rng.choice(bank["frames"])).replace("{", "\0{").replace("}", "}\0").split("\0"):
            if chunk == "{q}":
                words += self._clause(lang)
            elif chunk == "{n}":
                numbers.append(str(rng.randint(2, 990)))
                words.append(numbers[-1])
            elif chunk.startswith("{"):
                words.append(slots[chunk[1:-1]])
            elif chunk:
                words += chunk.split() if bank["joiner"] else [chunk]
        if bank["joiner"]:
            words = _attach_punctuation(words)
            words[0] = words[0][0].upper() + words[0][1:]
        return Sentence(words, numbers)

    def _slots(self, lang: str) -> dict[str, str]:
        return {key: self.rng.choice(LANGS[lang][key]) for key in ("p", "o", "c", "d", "x")}

    def _paragraph(self, lang: str, slots: dict[str, str]) -> list[Sentence]:
        """One to four sentences: some from the language's frames, most free (a clause
        naming the story's person, place or organisation), as news prose varies."""
        frames = self.rng.sample(LANGS[lang]["frames"], self.rng.choices((1, 2, 3, 4), (2, 4, 3, 1))[0])
        return [self._sentence(lang, slots, frame if self.rng.random() < 0.3 else _FREE[lang]) for frame in frames]

    # --- perturbations --------------------------------------------------------------------

    def _edit(self, original: Original, edits: int) -> str:
        """Substitute, delete or insert ``edits`` words, never a number (a changed number
        makes a different fact: see template_numbers)."""
        rng, vocab = self.rng, LANGS[original.lang]["vocab"]
        sentences = [Sentence(list(s.words), s.numbers) for s in original.sentences]
        for _ in range(edits):
            words = rng.choice(sentences).words
            i = rng.choice([i for i, w in enumerate(words) if not any(ch.isdigit() for ch in w)])
            stop = words[i][-1] if words[i][-1] in ".,;:。" and len(words[i]) > 1 else ""
            op = rng.choice(("substitute", "delete", "insert"))
            if op == "insert":
                words.insert(i, rng.choice(vocab))
            elif op == "delete" and len(words) > 3:
                del words[i]
                if stop:  # the sentence keeps its full stop
                    words[i - 1 if i == len(words) else i] += stop
            else:
                words[i] = rng.choice(vocab) + stop
        return _text(original.lang, sentences)

    def _normalised(self, text: str) -> str:
        """Different quotes, entities, width, case and spacing: the same text once normalised."""
        rng = self.rng
        for old, new in rng.sample(_QUOTE_SWAPS, 4):
            text = text.replace(old, new)
        if rng.random() < 0.3:
            text = text.upper()
        if rng.random() < 0.5:
            old, new = rng.choice(_ENTITIES)
            text = text.replace(old, new)
        if rng.random() < 0.5:
            text = "".join(chr(ord(ch) + 0xFEE0) if "0" <= ch <= "9" else ch for ch in text)  # fullwidth digits
        return text.replace(" ", "  ", 2).replace(". ", ".\u00a0", 1)

    def _tail(self, original: Original, text: str) -> str:
        return text + self.rng.choice((" ", " » ", " | ", "")) + self.rng.choice(LANGS[original.lang]["tails"])

    def _teaser(self, text: str) -> str | None:
        """The paragraph cut after 40 to 80% of its characters (perhaps mid-word), plus an
        ellipsis. At least 70 characters: a shorter cut may end within a sentence frame and
        its slots ("À Strasbourg, Sophie Lefèvre a indiqué aux journalistes que…"), which
        then begins other paragraphs too."""
        if len(text) < 100:
            return None
        cut = self.rng.randint(max(70, int(len(text) * 0.4)), int(len(text) * 0.8))
        return text[:cut].rstrip(" ,") + self.rng.choice(_TEASER_MARKS)

    def _reorder(self, original: Original) -> str | None:
        if len(original.sentences) < 2:
            return None
        order = list(original.sentences)
        while order == original.sentences:
            self.rng.shuffle(order)
        return _text(original.lang, order)

    def _same_topic(self, original: Original) -> str:
        """Another paragraph on the same story: same people, places and topic."""
        return _text(original.lang, self._paragraph(original.lang, original.slots))

    def _shared_quote(self, original: Original) -> str | None:
        """Other sentences around the same long quote."""
        if original.quote is None:
            return None
        around = [self._sentence(original.lang, original.slots) for _ in range(2)]
        return _text(original.lang, [around[0], original.quote, around[1]])

    def _template_numbers(self, original: Original) -> str | None:
        """The same sentences with different numbers: a different fact."""
        if not any(s.numbers for s in original.sentences):
            return None
        return _text(original.lang, [
            Sentence([str(int(w) + self.rng.randint(1, 9)) if w in s.numbers else w for w in s.words], [])
            for s in original.sentences
        ])

    def _mixed(self, original: Original) -> str:
        return self._tail(original, self._normalised(self._edit(original, 1)))

    def _derive(self, kind: str, source: Original) -> str | None:
        text = _text(source.lang, source.sentences)
        return {
            "exact": lambda: text,
            "normalised": lambda: self._normalised(text),
            "tail": lambda: self._tail(source, text),
            "teaser": lambda: self._teaser(text),
            "edit_1": lambda: self._edit(source, 1),
            "edit_2": lambda: self._edit(source, 2),
            "edit_3": lambda: self._edit(source, 3),
            "reorder": lambda: self._reorder(source),
            "mixed": lambda: self._mixed(source),
            "same_topic": lambda: self._same_topic(source),
            "shared_quote": lambda: self._shared_quote(source),
            "template_numbers": lambda: self._template_numbers(source),
        }[kind]()

    # --- documents ------------------------------------------------------------------------

    def _original(self, doc: str, position: int, lang: str) -> tuple[str, Original]:
        slots = self._slots(lang)
        sentences = self._paragraph(lang, slots)
        quote = None
        if self.rng.random() < 0.2:
            quote = self._sentence(lang, slots, LANGS[lang]["quote"])
            sentences.insert(self.rng.randint(0, len(sentences)), quote)
        self.families += 1
        return _text(lang, sentences), Original(self.families, doc, position, lang, sentences, slots, quote)

    def _remember(self, original: Original) -> None:
        pool = self.pools[original.lang]
        if len(pool) < self.pool_size:
            pool.append(original)
        else:
            pool[self.rng.randrange(self.pool_size)] = original

    def document(self, name: str) -> tuple[list[str], list[Label]]:
        """One document of 4 to 14 paragraphs in one language."""
        rng = self.rng
        lang = rng.choice(list(LANGS))
        pool = self.pools[lang]
        texts: list[str] = []
        labels: list[Label] = []
        mine: list[Original] = []
        for _ in range(rng.randint(4, 14)):
            kind = rng.choices(_KINDS, _WEIGHTS)[0]
            if kind != "original" and pool:
                source = rng.choice(pool)
                text = self._derive(kind, source)
                if text is not None:
                    family = source.family
                    if kind in NEGATIVE_KINDS:
                        family = source.negatives.setdefault(text, self.families + 1)
                        self.families = max(self.families, family)
                    labels.append(Label(kind, family, (source.doc, source.position)))
                    texts.append(text)
                    continue
            text, original = self._original(name, len(texts), lang)
            texts.append(text)
            labels.append(Label("original", original.family))
            mine.append(original)
            self._remember(original)
        self._open_with_teaser(name, texts, labels, mine)
        return texts, labels

    def _open_with_teaser(self, name: str, texts: list[str], labels: list[Label], mine: list[Original]) -> None:
        """Now and then a document opens with the teaser of one of its own later paragraphs."""
        if self.rng.random() > 0.1 or not mine:
            return
        target = self.rng.choice(mine)
        teaser = self._teaser(texts[target.position])
        if teaser is None or target.position == 0:
            return
        for original in mine:
            original.position += 1
        shifted = [Label(l.kind, l.family, (name, l.of[1] + 1) if l.of and l.of[0] == name else l.of)
                   for l in labels]
        labels[:] = [Label("teaser", target.family, (name, target.position)), *shifted]
        texts.insert(0, teaser)

    def documents(self, count: int, prefix: str = "doc") -> Iterator[tuple[str, list[str], list[Label]]]:
        for i in range(count):
            name = f"{prefix}{i:07}"
            yield (name, *self.document(name))


_KINDS, _WEIGHTS = zip(*KIND_WEIGHTS.items())
_FREE = {lang: "{q} {p} {q}." if bank["joiner"] else "{q}{c}{q}。" for lang, bank in LANGS.items()}


def _attach_punctuation(words: list[str]) -> list[str]:
    """Glue '.', ',' and the like to the word before, as written text has them."""
    out: list[str] = []
    for word in words:
        if out and word in (".", ",", ":", ";"):
            out[-1] += word
        else:
            out.append(word)
    return out


# --- the fixture for tests ---------------------------------------------------------------------

def write_fixture(path: Path, documents: int, seed: int) -> None:
    """The small labelled set the tests load: one JSON line per document, with its text
    (paragraphs separated by blank lines, as docmill reads JSON Lines) and its labels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for name, texts, labels in DevSet(seed).documents(documents, prefix="d"):
            record = {"id": name, "text": "\n\n".join(texts),
                      "labels": [[label.kind, label.family, *(label.of or (None, None))] for label in labels]}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


# --- the run -------------------------------------------------------------------------------------

@dataclass
class Costs:
    paragraphs: int = 0
    documents: int = 0
    sign_cpu: float = 0.0  # workers: fingerprints, teaser prefixes, LSH band keys
    load_cpu: float = 0.0  # the writer: Corpus.load_batch, all threads
    load_wall: float = 0.0
    rss_tenth: float = 0.0  # peak RSS in MiB, at a tenth of the corpus, at half of it, at the end
    rss_half: float = 0.0
    rss_end: float = 0.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _document(name: str, texts: list[str], costs: Costs) -> Document:
    paragraphs = [Paragraph(position, normalize_text(text)) for position, text in enumerate(texts)]
    started = time.process_time()
    sign_paragraphs(paragraphs)
    costs.sign_cpu += time.process_time() - started
    return Document(name, f"bench://{name}", name, paragraphs)


def load(db: Path, labels_csv: Path, args: argparse.Namespace) -> Costs:
    """Generate and load the corpus batch by batch; write the labels as it goes."""
    costs = Costs()
    params = DedupParams(tuple(args.tiers.split(",")), args.threshold)
    with Corpus(db, params) as corpus, labels_csv.open("w", newline="", encoding="utf-8") as out:
        labels_out = csv.writer(out)
        corpus.start_run("bench", "bench", [], {})
        batch: list[Document] = []
        held, held_characters = 0, 0
        for name, texts, labels in DevSet(args.seed).documents(10**9):
            batch.append(_document(name, texts, costs))
            labels_out.writerows([name, position, label.kind, label.family, *(label.of or ("", ""))]
                                 for position, label in enumerate(labels))
            costs.paragraphs += len(texts)
            costs.documents += 1
            held += len(texts)
            held_characters += sum(map(len, texts))
            done = costs.paragraphs >= args.paragraphs
            if held >= args.load_paragraphs or held_characters >= LOAD_GROUP_CHARACTERS or done:
                cpu, wall = _cpu(), time.perf_counter()
                corpus.load_batch("bench", BatchResult(documents=batch))
                costs.load_cpu += _cpu() - cpu
                costs.load_wall += time.perf_counter() - wall
                batch, held, held_characters = [], 0, 0
                if not costs.rss_tenth and costs.paragraphs >= args.paragraphs / 10:
                    costs.rss_tenth = _rss_mib()
                if not costs.rss_half and costs.paragraphs >= args.paragraphs / 2:
                    costs.rss_half = _rss_mib()
            if done:
                break
        # What loads left in DuckDB's write-ahead log is written to the database file at
        # a checkpoint: the writer's work too, whenever it happens.
        cpu, wall = _cpu(), time.perf_counter()
        corpus.con.execute("CHECKPOINT")
        costs.load_cpu += _cpu() - cpu
        costs.load_wall += time.perf_counter() - wall
    costs.rss_end = _rss_mib()
    return costs


_SCORE = """
WITH truth AS (
    SELECT * FROM read_csv($labels, header = false, columns = {
        'doc_id': 'VARCHAR', 'position': 'INTEGER', 'kind': 'VARCHAR', 'family': 'BIGINT',
        'of_doc': 'VARCHAR', 'of_position': 'INTEGER'})
), judged AS (
    SELECT t.kind, t.kind IN $duplicate_kinds AS positive, p.status = 'duplicate' AS marked,
           p.status = 'duplicate' AND o.family = t.family AS correct, p.dup_kind
    FROM truth t JOIN paragraphs p USING (doc_id, position)
    LEFT JOIN truth o ON o.doc_id = p.dup_of_doc AND o.position = p.dup_of_position
)
SELECT kind, bool_or(positive) AS positive, count(*) AS n, count(*) FILTER (WHERE marked) AS marked,
       count(*) FILTER (WHERE correct) AS correct,
       string_agg(DISTINCT dup_kind, '/' ORDER BY dup_kind) FILTER (WHERE marked) AS found_by
FROM judged GROUP BY kind
"""


def score(db: Path, labels_csv: Path) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(_SCORE, {"labels": str(labels_csv), "duplicate_kinds": list(DUPLICATE_KINDS)}).fetchall()
    order = ["original", *DUPLICATE_KINDS, *NEGATIVE_KINDS]
    return sorted(rows, key=lambda row: order.index(row[0]))


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def print_quality(rows: list[tuple]) -> None:
    """Per kind: precision, recall, F1 for the duplicates; for originals and hard negatives,
    how many were marked and how many of those point outside their family (a hard negative
    drawn twice, say the same changed numbers, is two copies of one paragraph: the second
    rightly points at the first)."""
    print(f"{'kind':<18}{'paragraphs':>11}{'marked':>9}{'precision':>11}{'recall':>9}{'F1':>8}  found by")
    marked = correct = positives = found = 0
    for kind, positive, n, marked_, correct_, found_by in rows:
        marked, correct = marked + marked_, correct + correct_
        if positive:
            positives, found = positives + n, found + correct_
            precision, recall = _ratio(correct_, marked_), _ratio(correct_, n)
            f1 = _ratio(2 * precision * recall, precision + recall)
            print(f"{kind:<18}{n:>11}{marked_:>9}{precision:>11.4f}{recall:>9.4f}{f1:>8.4f}  {found_by or ''}")
        else:  # an original or hard negative: wrong if it points outside its family
            wrong = marked_ - correct_
            print(f"{kind:<18}{n:>11}{marked_:>9}{f'({wrong} wrong, kept {1 - wrong / n:.4f})':>28}  {found_by or ''}")
    precision, recall = _ratio(correct, marked), _ratio(found, positives)
    print(f"{'all duplicates':<18}{positives:>11}{marked:>9}{precision:>11.4f}{recall:>9.4f}"
          f"{_ratio(2 * precision * recall, precision + recall):>8.4f}")


def _bytes_of(con, query: str, scratch: Path) -> int:
    """Bytes a query's result takes once stored (DuckDB's compression) in a fresh file."""
    scratch.unlink(missing_ok=True)
    con.execute(f"ATTACH '{scratch}' AS scratch")
    con.execute(f"CREATE TABLE scratch.t AS {query}")
    con.execute("DETACH scratch")
    return scratch.stat().st_size


def index_bytes(db: Path, scratch: Path) -> dict[str, int]:
    import duckdb

    # As the writer checkpoints: a default checkpoint would merge its row groups, and the
    # file measured would not be the one docmill leaves.
    with duckdb.connect(str(db), config={"max_vacuum_tasks": MAX_VACUUM_TASKS}) as con:
        con.execute("CHECKPOINT")
        empty = _bytes_of(con, "SELECT 1 AS x WHERE false", scratch)
        return {
            "band keys (paragraph_bands)": _bytes_of(con, "SELECT band, pid FROM paragraph_bands", scratch) - empty,
            "pid, prefixes, similarity columns": _bytes_of(
                con, "SELECT pid, prefix_fingerprint, long_prefix_fingerprint, similarity FROM paragraphs",
                scratch) - empty,
            "whole database": db.stat().st_size,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, default=100_000)
    parser.add_argument("--load-paragraphs", type=int, default=LOAD_GROUP_PARAGRAPHS,
                        help=f"paragraphs per load_batch (default {LOAD_GROUP_PARAGRAPHS}, as the ingest flow)")
    parser.add_argument("--tiers", default=",".join(TIERS), help="comma-separated dedup tiers")
    parser.add_argument("--threshold", type=float, default=DEFAULT_NEAR_THRESHOLD, help="near-duplicate Jaccard")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write-fixture", type=Path, metavar="FILE", help="write the small labelled set and stop")
    parser.add_argument("--documents", type=int, default=160, help="documents in the fixture")
    args = parser.parse_args()
    if args.write_fixture:
        write_fixture(args.write_fixture, args.documents, args.seed)
        return

    with tempfile.TemporaryDirectory(prefix="docmill-neardup-") as tmp:
        db, labels_csv = Path(tmp) / "bench.duckdb", Path(tmp) / "labels.csv"
        started = time.perf_counter()
        costs = load(db, labels_csv, args)
        wall = time.perf_counter() - started
        rows = score(db, labels_csv)
        sizes = index_bytes(db, Path(tmp) / "scratch.duckdb")

    per_million = 1e6 / costs.paragraphs
    print(f"{costs.paragraphs} paragraphs in {costs.documents} documents, loads of {args.load_paragraphs} paragraphs, "
          f"tiers {args.tiers}, near threshold {args.threshold}")
    print_quality(rows)
    print("\nCPU-seconds per million paragraphs")
    print(f"  workers: signatures             {costs.sign_cpu * per_million:8.1f}")
    print(f"  writer: Corpus.load_batch       {costs.load_cpu * per_million:8.1f}  "
          f"(whole load, DuckDB threads included; {costs.load_wall * per_million:.1f} s wall)")
    print(f"  total                           {(costs.sign_cpu + costs.load_cpu) * per_million:8.1f}")
    print(f"peak RSS                          {costs.rss_tenth:8.0f} MiB at a tenth of the corpus, "
          f"{costs.rss_half:.0f} MiB at half, {costs.rss_end:.0f} MiB at the end")
    for name, size in sizes.items():
        print(f"{name:<34}{size / costs.paragraphs:8.1f} bytes/paragraph  ({size / 2**20:.1f} MiB)")
    print(f"run time                          {wall:8.1f} s (generating the corpus included)")


if __name__ == "__main__":
    main()
