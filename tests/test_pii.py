"""Personal data (tasks/pii.py): the targets on the labelled fixture (bench/pii.py prints
the same figures), the Luhn check, and masking."""
from __future__ import annotations

import importlib.util
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT
from tasks.pii import PiiKind, PiiSpan, find_in_text, find_pii, luhn_valid, redacted


def _bench():
    spec = importlib.util.spec_from_file_location("bench_pii", ROOT / "bench" / "pii.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_precision_and_recall_on_the_labelled_fixture():
    bench = _bench()
    assert sum(1 for _ in bench.FIXTURE.open(encoding="utf-8")) >= 200
    overall = bench.score()["all"]
    assert overall.labelled >= 100
    assert overall.precision >= 0.99, overall.wrong
    assert overall.recall >= 0.95, overall.missed


@pytest.mark.parametrize("number, valid", [
    ("4111111111111111", True), ("4111111111111112", False), ("378282246310005", True), ("79927398713", True),
    ("79927398710", False),
])
def test_luhn(number, valid):
    assert luhn_valid(number) is valid


def _found(text: str) -> list[tuple[str, str]]:
    return [(str(kind), text[start:end]) for kind, start, end in find_in_text(text)]


@pytest.mark.parametrize("text", [
    "ISBN 978-3-16-148410-0", "Update to version 1.2.3.4 today.", "On 2024-05-12 at 12:30:45.",
    "Price: $1,234.56.", "Order 4111111111111112 shipped.", "Use std::vector here.", "MAC 00:1A:2B:3C:4D:5E.",
    "IBAN FR76 3000 6000 0112 3456 7890 189", "It costs 1 234 567 euros.",
])
def test_hard_negatives_are_not_personal_data(text):
    assert _found(text) == []


def test_a_card_number_is_not_also_a_phone_number():
    assert _found("Pay with 4111 1111 1111 1111 now") == [("payment_card", "4111 1111 1111 1111")]


def test_spans_are_per_paragraph_and_masking_keeps_the_rest():
    paragraphs = [(0, "No personal data here."), (3, "Mail jane@example.com or call +44 20 7946 0958.")]
    spans = find_pii(paragraphs)
    assert spans == [PiiSpan(3, PiiKind.EMAIL, 5, 21), PiiSpan(3, PiiKind.PHONE, 30, 46)]
    text = paragraphs[1][1]
    assert redacted(text, [(s.kind, s.start, s.end) for s in spans]) == "Mail [email] or call [phone]."


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["4111 1111 1111 1111", "+44 20 7946 0958", "a@b.co", "10.0.0.1", "::1", "v1.2.3.4",
                                 " ", "-", ".", "7", "x", "@", ":"]), max_size=20).map("".join))
def test_spans_are_ordered_disjoint_and_inside_the_text(text):
    spans = find_in_text(text)
    assert all(0 <= start < end <= len(text) for _, start, end in spans)
    assert all(a[2] <= b[1] for a, b in zip(spans, spans[1:]))
