"""Lender rules at the review gate: a `decline` rule publishes `declined` with its reasons,
a `park` rule parks with its reason, a factor a rule needs that is missing parks, and the
case records the rules version it was judged by. The rules that fired are in the run's
metadata, the run tag and the audit log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from aura_dagster.sample_data.tax_documents import write_drivers_license_pdf
from aura_dagster.sensors.run_status import audit_run_succeeded
from aura_dagster.tags import REVIEW_TAG
from aura_dagster_tests.engine.conftest import Engine
from aura_dagster_tests.engine.test_review_flow import _materialized, _sensor_context


def _expired_license(tmp_path: Path) -> Path:
    return write_drivers_license_pdf(
        tmp_path / "dl_expired.pdf", name="James Chen", state="CA", license_number="E1177302",
        dob=dt.date(1979, 11, 21), issued=dt.date(2017, 1, 5), expires=dt.date(2022, 11, 21))


def _audit(engine: Engine, run_id: str, organization_id: str, underwriting_id: str) -> dict:
    audit_run_succeeded(_sensor_context(engine, audit_run_succeeded, run_id))
    return {r["event"]: r for r in engine.stores.audit.list_for_underwriting(
        underwriting_id, organization_id)}


def test_the_adverse_case_is_declined_by_the_default_rules(engine: Engine,
                                                           tmp_path: Path) -> None:
    """The demo's adverse case: an active bankruptcy (decline) and an expired licence
    (park). Decline wins; both reasons are told."""
    org = engine.tenant({"p_clear_business_report": None, "p_drivers_license": None})
    spec = engine.underwriting(org, "Redwood Auto Repair LLC", "CA",
                               [(_expired_license(tmp_path), "drivers_license")])

    outcome = engine.process_event(spec)

    assert outcome.success
    event = engine.completion_for(spec.underwriting_id)
    assert event["status"] == "declined"
    assert "active_bankruptcy" in event["reason"]
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert row["status"] == "declined" and row["completed_at"] is not None
    assert row["rules_version"] == 0  # the defaults
    assert engine.instance.get_run_by_id(outcome.run_id).tags[REVIEW_TAG] == "declined"
    rules = _materialized(engine, outcome.run_id, "underwriting_review")["rules"]
    assert {f["name"]: f["action"] for f in rules["fired"]} == {
        "active_bankruptcy": "decline", "drivers_license_expired": "park"}
    audit = _audit(engine, outcome.run_id, org, spec.underwriting_id)
    assert {f["name"] for f in audit["rules_fired"]["detail"]["fired"]} == {
        "active_bankruptcy", "drivers_license_expired"}


def test_a_park_rule_parks_and_the_organizations_version_is_recorded(
        engine: Engine, tmp_path: Path) -> None:
    org = engine.tenant({"p_drivers_license": None})
    engine.stores.rules.add_version(org, [
        {"name": "expired_licence", "condition": "dl_expired == true", "action": "park",
         "reason": "licence expired: ask for a renewed one"}], changed_by="risk-team")
    spec = engine.underwriting(org, "Sunrise Bakery LLC", "CA",
                               [(_expired_license(tmp_path), "drivers_license")])

    outcome = engine.process_event(spec)

    assert outcome.success
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert row["status"] == "awaiting_review"
    assert "expired_licence: licence expired: ask for a renewed one" in row["review_reason"]
    assert row["rules_version"] == 1
    assert engine.instance.get_run_by_id(outcome.run_id).tags[REVIEW_TAG] == \
        "awaiting_review"


def test_a_factor_a_rule_needs_that_is_missing_parks(engine: Engine) -> None:
    """The tax-return tenant's own rule reads a driver's-licence factor nobody produced: the
    case cannot be judged by it, so it parks instead of passing."""
    org = engine.tenant({"p_tax_return": None})
    engine.stores.rules.add_version(org, [
        {"name": "expired_licence", "condition": "dl_expired == true", "action": "decline",
         "reason": "licence expired"}], changed_by="risk-team")
    spec = engine.underwriting(org, "Sunrise Bakery LLC", "CA",
                               [(engine.samples["tax_return.pdf"], "tax_return")])

    outcome = engine.process_event(spec)

    assert outcome.success
    row = engine.stores.underwritings.get_underwriting(spec.underwriting_id)
    assert row["status"] == "awaiting_review"
    assert "dl_expired" in row["review_reason"]
