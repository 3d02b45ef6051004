"""Batches (exporter/output/batch.py): one `_bulk` body each, read back by id and position; documents given as
dicts encoded into batches by day and size."""

from __future__ import annotations

from exporter.output import batch as batches
from exporter.output.batch import Batch

DAY1_MS = 1_700_000_010_000  # 2023-11-14 UTC
DAY2_MS = DAY1_MS + 86_400_000


def docs(prefix: str, n: int, slot_ms: int = DAY1_MS) -> list[dict]:
    return [{"_id": f"{prefix}-{i}", "lagwatch.slot": slot_ms, "n": i} for i in range(n)]


def test_documents_as_dicts_become_a_body_of_action_and_source_lines():
    (made,) = batches.from_documents(docs("a", 2))
    assert made.documents == 2 and made.day == "2023.11.14"
    assert made.body == (
        b'{"index":{"_id":"a-0"}}\n{"lagwatch.slot":1700000010000,"n":0}\n'
        b'{"index":{"_id":"a-1"}}\n{"lagwatch.slot":1700000010000,"n":1}\n'
    )
    assert made.ids() == ["a-0", "a-1"]
    assert made.decode() == docs("a", 2)


def test_a_new_batch_begins_where_the_day_changes_or_the_size_is_reached():
    made = batches.from_documents(docs("a", 3) + docs("b", 1, DAY2_MS), max_documents=2)
    assert [(b.ids(), b.day) for b in made] == [
        (["a-0", "a-1"], "2023.11.14"), (["a-2"], "2023.11.14"), (["b-0"], "2023.11.15")
    ]


def test_a_document_without_a_slot_belongs_to_the_day_of_its_time():
    (made,) = batches.from_documents([{"_id": "t", "@timestamp": "2024-02-29T23:59:59.999Z"}])
    assert made.day == "2024.02.29"


def test_a_subset_keeps_the_chosen_documents_in_order():
    (made,) = batches.from_documents(docs("a", 5))
    part = made.subset([1, 3])
    assert part.documents == 2 and part.day == made.day
    assert part.decode() == [docs("a", 5)[1], docs("a", 5)[3]]


def test_parts_cut_a_large_batch_at_document_boundaries_and_leave_a_small_one_whole():
    (made,) = batches.from_documents(docs("a", 5))
    assert list(made.parts(5)) == [made]
    assert [p.ids() for p in made.parts(2)] == [["a-0", "a-1"], ["a-2", "a-3"], ["a-4"]]
    assert b"".join(p.body for p in made.parts(2)) == made.body


def test_strings_with_newlines_quotes_and_any_script_stay_one_line_each():
    odd = {"_id": 'x"\n', "lagwatch.slot": DAY1_MS, "group": '주문 처리.그룹 ✓\t/\n{"index":{"_id":"y"}}'}
    (made,) = batches.from_documents([odd])
    assert made.body.count(b"\n") == 2
    assert made.decode() == [odd] and made.ids() == ['x"\n']


def test_a_batch_is_a_frozen_record():
    made = Batch(b"", 0, "2023.11.14")
    assert made == Batch(b"", 0, "2023.11.14") and made.size == 0
