"""Today's `_bulk` bytes hold the documents and ids of the golden outputs (tests/unit/golden.py): every document
of the tiny estate field by field, and the same SHA-256 over every document of the scaled W and G estates, with
and without anomalies (partial groups among them), statuses included, over 3 scrapes each."""

from __future__ import annotations

import gzip
import json

import pytest

from bench.estate_spec import ESTATES
from tests.unit import golden


def test_every_document_of_the_tiny_estate_is_the_golden_one():
    with gzip.open(golden.GOLDEN / "tiny-anomalies.ndjson.gz") as written:
        expected = [json.loads(line) for line in written]
    got = [json.loads(line) for line in golden.lines(golden.TINY, True)]
    assert len(got) == len(expected)
    for doc, want in zip(got, expected):
        assert doc == want
    partial = [d for d in got if d.get("lagwatch.lag.partial")]
    assert {d["lagwatch.doc_type"] for d in partial} == {"partition", "topic", "group"}


@pytest.mark.parametrize("case", golden.DIGEST_CASES, ids=[golden.case_name(*c) for c in golden.DIGEST_CASES])
def test_the_scaled_estates_documents_are_the_golden_ones(case):
    estate, scale, anomalies = case
    expected = json.loads((golden.GOLDEN / "digests.json").read_text())[golden.case_name(*case)]
    assert golden.digest(ESTATES[estate].scaled(scale), anomalies) == expected


def test_the_tiny_estate_over_full_status_windows_is_the_golden_one():
    expected = json.loads((golden.GOLDEN / "digests.json").read_text())[f"tiny-anomalies-{golden.LONG_SCRAPES}-scrapes"]
    assert golden.digest(golden.TINY, True, scrapes=golden.LONG_SCRAPES) == expected
