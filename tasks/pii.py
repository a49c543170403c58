"""Personal data in paragraphs: e-mail addresses, phone numbers, IPv4 and IPv6 addresses,
payment-card numbers. Found and recorded as spans (the ``pii`` table); the stored text is
never rewritten, ``docmill export --redact`` masks it.

Precision first: each kind has a shape a look-alike rarely takes. A phone number is written
as one (an international "+" prefix, North American punctuation, or a national number
starting with 0 in groups); a card number passes the Luhn check and starts as an issuer's
do; an IPv4 address preceded by "version", "v", "build", "section"... is a version or a
numbered section.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class PiiKind(StrEnum):
    """pii.kind."""

    EMAIL = "email"
    PHONE = "phone"
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    PAYMENT_CARD = "payment_card"


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """Personal data at characters [start, end) of a document's paragraph ``position``."""

    position: int
    kind: PiiKind
    start: int
    end: int


# ASCII boundaries: an address may touch Japanese or Chinese text ("お問い合わせはa@b.jpまで").
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\w)")
# Dotted numbers that follow these are versions or numbered sections, not addresses.
_NUMBERED_BEFORE = re.compile(
    r"(?:\bv|\bversion|\bver\.?|\brelease|\bbuild|\brev\.?|\bupdate|\bfirmware|\bkernel|\bsection|\bsect\.|§|"
    r"\bfigure|\bfig\.|\btable|\bchapter|\barticle|\bart\.|\bclause|\bstep|\bitem|\blot|\bno\.)\s*$",
    re.IGNORECASE)
_IPV6 = re.compile(rf"(?<![\w:.])(?:[0-9A-Fa-f]{{0,4}}:){{2,7}}(?:{_OCTET}(?:\.{_OCTET}){{3}}|[0-9A-Fa-f]{{1,4}}|:)"
                   r"(?![\w:])")
# Not a run of digit groups inside a longer one (an IBAN, a barcode written in groups).
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d[ .-])(?:"
    r"\+\d{1,3}[ .-]?(?:\(0?\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # +33 1 23 45 67 89
    r"|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}([.-])\d{3}\1\d{4}"  # (555) 123-4567, 555-123-4567
    r"|0\d(?:([ .-])\d{2})(?:\2\d{2}){3}"  # 01 23 45 67 89
    r"|0\d{2,4}[ /-]\d{3,4}[ -]?\d{3,4}"  # 030 1234567, 020 7946 0958
    r")(?![\w-]|[.,]?\d| \d)"
)
_CANDIDATE = re.compile(r"[\d@]")  # every kind holds a digit or an @
_PHONE_DIGITS = range(8, 16)  # E.164 allows up to 15 digits
# Whole digit groups only: not four groups out of an IBAN's seven.
_CARD = re.compile(r"(?<![\w.,-])(?<!\d )(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|3[47]\d{2}([ -])\d{6}\2\d{5})"
                   r"(?![\w-]|[.,]\d| \d)")
# Issuer prefixes (first digits) and the lengths their cards have.
_CARD_ISSUERS = (
    (re.compile(r"4"), (13, 16, 19)),  # Visa
    (re.compile(r"5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)"), (16,)),  # Mastercard
    (re.compile(r"3[47]"), (15,)),  # American Express
    (re.compile(r"6(?:011|5|4[4-9])"), (16, 17, 18, 19)),  # Discover
    (re.compile(r"35(?:2[89]|[3-8]\d)"), (16, 17, 18, 19)),  # JCB
    (re.compile(r"3(?:0[0-5]|[689])"), (14, 15, 16, 17, 18, 19)),  # Diners Club
    (re.compile(r"62"), (16, 17, 18, 19)),  # UnionPay
)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits holds."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card_number(digits: str) -> bool:
    return luhn_valid(digits) and any(
        prefix.match(digits) and len(digits) in lengths for prefix, lengths in _CARD_ISSUERS
    )


def _ipv6(candidate: str) -> bool:
    if candidate == "::":
        return False  # the unspecified address, as notation ("::/0")
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def find_in_text(text: str) -> list[tuple[PiiKind, int, int]]:
    """(kind, start, end) of the personal data in ``text``, in order of start; spans do not
    overlap (a card number is not also a phone number)."""
    found: list[tuple[PiiKind, int, int]] = []
    if "@" in text:
        found += [(PiiKind.EMAIL, m.start(), m.end()) for m in _EMAIL.finditer(text)]
    if ":" in text:
        found += [(PiiKind.IPV6, m.start(), m.end()) for m in _IPV6.finditer(text) if _ipv6(m.group())]
    if "." in text:
        found += [(PiiKind.IPV4, m.start(), m.end()) for m in _IPV4.finditer(text)
                  if not _NUMBERED_BEFORE.search(text, max(0, m.start() - 12), m.start())]
    found += [(PiiKind.PAYMENT_CARD, m.start(), m.end()) for m in _CARD.finditer(text)
              if _card_number(re.sub(r"\D", "", m.group()))]
    found += [(PiiKind.PHONE, m.start(), m.end()) for m in _PHONE.finditer(text)
              if len(re.sub(r"\D", "", m.group())) in _PHONE_DIGITS]
    return _without_overlaps(found)


def _without_overlaps(found: list[tuple[PiiKind, int, int]]) -> list[tuple[PiiKind, int, int]]:
    """The first-found of overlapping spans (the list runs from the most specific kind)."""
    kept: list[tuple[PiiKind, int, int]] = []
    for span in found:
        if all(span[2] <= other[1] or span[1] >= other[2] for other in kept):
            kept.append(span)
    return sorted(kept, key=lambda span: span[1])


def find_pii(paragraphs: Iterable[tuple[int, str]]) -> list[PiiSpan]:
    """The personal data in (position, text) paragraphs."""
    return [PiiSpan(position, kind, start, end)
            for position, text in paragraphs if _CANDIDATE.search(text)
            for kind, start, end in find_in_text(text)]


def redacted(text: str, spans: Iterable[tuple[PiiKind, int, int]]) -> str:
    """``text`` with each span replaced by its kind in brackets, e.g. "[email]"."""
    parts, at = [], 0
    for kind, start, end in sorted(spans, key=lambda span: span[1]):
        parts += [text[at:start], f"[{kind}]"]
        at = end
    return "".join(parts) + text[at:]
