"""TraceRepository: sequence numbers (also under concurrency) and evidence bundles."""

from __future__ import annotations

import threading

from aura_dagster.domain.processors.base import DecisionTrace, Evidence, new_execution_id
from aura_dagster.storage import Stores


def test_traces_numbered_in_order_and_continued(stores: Stores) -> None:
    repo = stores.traces
    exec_id = new_execution_id()
    numbers = repo.add_traces("req-1", "p_bank_statement", [
        DecisionTrace("should_execute", "run", "2 bank statements"),
        DecisionTrace("parse", "ok", input_data={"rows": 120}, output_data={"months": 3},
                      duration_ms=12),
    ], organization_id="org_1", underwriting_id="uw_1", execution_id=exec_id)
    assert numbers == [1, 2]
    assert repo.add_traces("req-1", "p_bank_statement", [
        {"decision_point": "consolidate", "decision": "done"}], organization_id="org_1") == [3]
    assert repo.add_traces("req-1", "p_bank_statement", [], organization_id="org_1") == []
    traces = repo.get_traces("req-1")
    assert [(t["sequence_number"], t["decision_point"]) for t in traces] == [
        (1, "should_execute"), (2, "parse"), (3, "consolidate")]
    assert traces[1]["input_data"] == {"rows": 120} and traces[1]["duration_ms"] == 12
    assert traces[0]["execution_id"] == exec_id
    assert repo.add_traces("req-2", "x", [DecisionTrace("a", "b")],
                           organization_id="org_1") == [1]
    assert [t["request_id"] for t in repo.get_traces_for_underwriting("uw_1", "org_1")] == [
        "req-1", "req-1"]


def test_sequence_numbers_under_concurrency(stores: Stores) -> None:
    barrier = threading.Barrier(6)
    results: list[list[int]] = []

    def add(worker: int) -> None:
        barrier.wait()
        for batch in range(3):
            results.append(stores.traces.add_traces(
                "req-c", "p", [DecisionTrace(f"w{worker}", f"b{batch}", None)] * 2,
                organization_id="org_1"))

    threads = [threading.Thread(target=add, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(n for batch in results for n in batch) == list(range(1, 37))
    assert all(batch[1] == batch[0] + 1 for batch in results)  # a batch stays contiguous
    assert [t["sequence_number"] for t in stores.traces.get_traces("req-c")] == list(
        range(1, 37))


def test_evidence_with_confidence_and_source(stores: Stores) -> None:
    ids = stores.traces.add_evidence("req-1", "p_bank_statement", [
        Evidence("document_text", {"text": "..."}, source="Document:doc_1",
                 confidence_score=0.95, metadata={"parser": "csv"}),
        {"evidence_type": "analysis", "evidence_data": {"nsf": 2}},
    ], organization_id="org_1", underwriting_id="uw_1")
    assert len(ids) == 2
    bundles = stores.traces.get_evidence("req-1")
    assert [b["evidence_type"] for b in bundles] == ["document_text", "analysis"]
    assert bundles[0]["confidence_score"] == 0.95 and bundles[0]["source"] == "Document:doc_1"
    assert bundles[0]["metadata"] == {"parser": "csv"} and bundles[1]["metadata"] is None
    assert stores.traces.get_evidence("req-none") == []
