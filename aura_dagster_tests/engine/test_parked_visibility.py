"""A parked case looks parked to an operator: in the runs list (the `aura/review` run tag,
updated with the decision later), on the asset's partitions (`processing_completed` is not
materialized until it is published) and in the review check of that partition."""

from __future__ import annotations

from dagster import AssetKey, DagsterEventType

from aura_dagster.tags import REVIEW_TAG
from aura_dagster_tests.engine.conftest import Engine
from aura_dagster_tests.engine.test_review_flow import _check, _parked_case, _review

PUBLISHED = AssetKey("processing_completed")


def _published_partitions(engine: Engine) -> set[str]:
    return set(engine.instance.get_materialized_partitions(PUBLISHED))


def test_a_parked_case_is_tagged_unpublished_and_its_check_names_the_partition(
        engine: Engine) -> None:
    spec, parked = _parked_case(engine)
    uid = spec.underwriting_id
    assert parked.success

    assert engine.instance.get_run_by_id(parked.run_id).tags[REVIEW_TAG] == "awaiting_review"
    assert uid not in _published_partitions(engine)
    cleared = _check(engine, parked.run_id, "review_cleared")
    assert not cleared.passed and cleared.partition == uid

    approved = _review(engine, uid, decision="approve", reviewer="ops")

    assert approved.success
    assert engine.instance.get_run_by_id(approved.run_id).tags[REVIEW_TAG] == "approved"
    # The parked run no longer reads as waiting in the runs list.
    parked_tags = engine.instance.get_run_by_id(parked.run_id).tags
    assert parked_tags[REVIEW_TAG] == "approved"
    assert parked_tags["aura/review_run"] == approved.run_id
    assert uid in _published_partitions(engine)
    assert _check(engine, approved.run_id, "review_cleared").passed


def test_an_auto_approved_case_is_tagged_and_published(engine: Engine) -> None:
    spec = engine.tax_return_case()
    outcome = engine.process_event(spec)

    assert outcome.success
    assert engine.instance.get_run_by_id(outcome.run_id).tags[REVIEW_TAG] == "auto_approved"
    assert spec.underwriting_id in _published_partitions(engine)
    materialized = {e.dagster_event.asset_key for e in engine.instance.all_logs(
        outcome.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)}
    assert PUBLISHED in materialized
