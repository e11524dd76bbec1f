"""Lender rule sets in the store (SQLite and PostgreSQL): append-only versions with an audit
row each, the version a case was judged by, the `declined` status and migration 0004; and
the service that judges a case by the rules in force and refuses a bad set before storing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aura_dagster.domain.rules import DEFAULT_RULES, RuleSetError, rules_as_data
from aura_dagster.services.lender_rules import (
    UnknownOrganizationError,
    judge_case,
    rule_history,
    rule_set,
    rules_in_force,
    set_rules,
)
from aura_dagster.storage import Database, NotFoundError, Stores
from aura_dagster.storage.repositories.rules import RULES_CHANGED
from aura_dagster.storage.views import FACTOR_MATRIX_VIEW

BANKRUPT = [
    {
        "name": "bk",
        "condition": "biz_active_bankruptcy == true",
        "action": "decline",
        "reason": "bankrupt",
    }
]
SHORT = [
    {
        "name": "short",
        "condition": "bank_months_covered < 6",
        "action": "park",
        "reason": "under six months",
    }
]


@pytest.fixture
def real_stores(db: Database) -> Stores:
    """The real processor catalog: the rules read the real processors' factors."""
    return Stores(db)


def _audit(stores: Stores, organization_id: str) -> list[dict[str, Any]]:
    with stores.db.engine.connect() as conn:
        rows = (
            conn.execute(
                sa.text(
                    "SELECT event, detail FROM audit_log WHERE "
                    "organization_id = :o ORDER BY created_at"
                ),
                {"o": organization_id},
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def test_versions_are_appended_and_audited(stores: Stores) -> None:
    repo = stores.rules
    assert repo.current("org_1") is None and repo.history("org_1") == []
    first = repo.add_version("org_1", BANKRUPT, changed_by="ann", note="start")
    second = repo.add_version("org_1", SHORT, changed_by=" bob ")
    repo.add_version("org_2", SHORT, changed_by="cy")
    assert (first["version"], second["version"]) == (1, 2)
    assert second["changed_by"] == "bob" and second["changed_at"] >= first["changed_at"]
    assert repo.current("org_1")["rules"] == SHORT
    assert repo.get_version("org_1", 1)["rules"] == BANKRUPT
    assert repo.get_version("org_1", 1)["note"] == "start"
    assert [r["version"] for r in repo.history("org_1")] == [2, 1]
    assert repo.current("org_2")["version"] == 1  # versions count per organization
    audit = _audit(stores, "org_1")
    assert [a["event"] for a in audit] == [RULES_CHANGED, RULES_CHANGED]
    detail = audit[1]["detail"]
    detail = detail if isinstance(detail, dict) else __import__("json").loads(detail)
    assert detail == {
        "version": 2,
        "previous_version": 1,
        "changed_by": "bob",
        "note": None,
        "rules": ["short"],
    }
    with pytest.raises(ValueError, match="changed_by"):
        repo.add_version("org_1", SHORT, changed_by="  ")
    assert len(repo.history("org_1")) == 2


def test_concurrent_changes_take_distinct_versions(stores: Stores) -> None:
    writers = 6
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            barrier.wait()
            stores.rules.add_version("org_1", SHORT, changed_by=f"user{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = stores.rules.history("org_1")
    assert sorted(r["version"] for r in history) == list(range(1, writers + 1))
    assert len(_audit(stores, "org_1")) == writers


def test_declined_status_and_the_judged_version(stores: Stores) -> None:
    stores.underwritings.upsert_underwriting("uw_1", "org_1")
    assert stores.underwritings.get_underwriting("uw_1")["rules_version"] is None
    row = stores.rules.set_underwriting_rules_version("uw_1", 0, organization_id="org_1")
    assert row["rules_version"] == 0
    with pytest.raises(NotFoundError):
        stores.rules.set_underwriting_rules_version("uw_1", 1, organization_id="org_2")
    with pytest.raises(NotFoundError):
        stores.rules.set_underwriting_rules_version("uw_nope", 1)
    stores.underwritings.set_status("uw_1", "declined", review_reason="bk: bankrupt")
    final = stores.underwritings.record_completion("uw_1", "declined")
    assert (final["status"], final["rules_version"]) == ("declined", 0)
    assert final["completed_at"] is not None
    with pytest.raises(sa.exc.IntegrityError), stores.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE underwritings SET status = 'bogus'"))


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'empty.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


def test_migration_0004_up_and_down_with_cases(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        db.upgrade("0003")
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO underwritings (id, organization_id, status, created_at,"
                    " updated_at) VALUES ('uw_old', 'org_1', 'completed', :now, :now)"
                ),
                {"now": "2026-11-30 07:00:00+00:00"},
            )
        db.upgrade()
        stores = Stores(db)
        assert stores.underwritings.get_underwriting("uw_old")["rules_version"] is None
        stores.underwritings.upsert_underwriting("uw_new", "org_1")
        stores.underwritings.record_completion("uw_new", "declined")
        stores.rules.add_version("org_1", SHORT, changed_by="ann")
        with db.engine.connect() as conn:  # the view survived the table's copy on SQLite
            statuses = dict(
                conn.execute(
                    sa.text(f"SELECT underwriting_id, status FROM {FACTOR_MATRIX_VIEW}")
                ).all()
            )
        assert statuses == {"uw_old": "completed", "uw_new": "declined"}

        db.downgrade("0003")
        with db.engine.connect() as conn:
            statuses = dict(
                conn.execute(
                    sa.text(f"SELECT underwriting_id, status FROM {FACTOR_MATRIX_VIEW}")
                ).all()
            )
            tables = set(sa.inspect(conn).get_table_names())
            columns = {c["name"] for c in sa.inspect(conn).get_columns("underwritings")}
        assert statuses == {"uw_old": "completed", "uw_new": "rejected"}
        assert "lender_rule_sets" not in tables and "rules_version" not in columns
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE underwritings SET status = 'declined'"))
    finally:
        db.dispose()


# -- the service ---------------------------------------------------------------------------


def _tenant(stores: Stores, organization_id: str, *processors: str) -> None:
    for processor in processors:
        stores.processors.create_purchased_processor(organization_id, processor)


def test_defaults_judge_by_what_the_organization_bought(real_stores: Stores) -> None:
    _tenant(real_stores, "org_1", "p_bank_statement", "p_clear_business_report")
    judgement = judge_case(
        real_stores,
        "org_1",
        {
            "biz_active_bankruptcy": True,
            "bank_months_covered": 6,
            "bank_stacking_position_count": 0,
            "bank_nsf_count_by_month": {"2024-01": 0},
        },
    )
    assert (judgement.version, judgement.source, judgement.action) == (0, "defaults", "decline")
    assert judgement.reasons == ("active_bankruptcy: the business has an active bankruptcy",)
    assert judgement.decline_reasons == judgement.reasons
    # No driver's licence or registry check bought: those defaults do not park every case.
    assert judgement.not_applicable == (
        "not_in_good_standing (needs p_secretary_of_state, not bought)",
        "drivers_license_expired (needs p_drivers_license, not bought)",
    )
    shown = judgement.as_dict()
    assert shown["rules_version"] == 0 and shown["action"] == "decline"
    assert shown["fired"] == [
        {
            "name": "active_bankruptcy",
            "action": "decline",
            "reason": "the business has an active bankruptcy",
            "missing": [],
        }
    ]
    # A bought processor that produced nothing: its default rule parks naming the factor.
    parked = judge_case(
        real_stores,
        "org_1",
        {
            "bank_months_covered": 6,
            "bank_stacking_position_count": 0,
            "bank_nsf_count_by_month": {},
        },
    )
    assert parked.action == "park" and parked.fired[0].missing == ("biz_active_bankruptcy",)


def test_the_organizations_rules_replace_the_defaults(real_stores: Stores) -> None:
    _tenant(real_stores, "org_1", "p_bank_statement")
    change = set_rules(
        real_stores, "org_1", {"rules": BANKRUPT + SHORT}, changed_by="ann", note="stricter history"
    )
    assert change.rule_set.version == 1
    assert change.warnings == (
        "rule bk reads factors of p_clear_business_report, which org_1 "
        "has not bought: its cases will park for the missing factors",
    )
    judgement = judge_case(real_stores, "org_1", {"bank_months_covered": 4})
    assert (judgement.version, judgement.source) == (1, "organization")
    # Its own rules always apply: the bankruptcy factor is missing, so the case parks.
    assert [(f.name, f.action, f.missing) for f in judgement.fired] == [
        ("bk", "park", ("biz_active_bankruptcy",)),
        ("short", "park", ()),
    ]
    assert rules_in_force(real_stores, "org_1").note == "stricter history"
    assert rule_set(real_stores, "org_1", 0).rules == DEFAULT_RULES
    assert [v.version for v in rule_history(real_stores, "org_1")] == [1]
    with pytest.raises(LookupError, match="no rules version 5"):
        rule_set(real_stores, "org_1", 5)


def test_nothing_is_stored_for_a_bad_set_an_unknown_org_or_no_author(real_stores: Stores) -> None:
    _tenant(real_stores, "org_1", "p_bank_statement")
    bad = [{**SHORT[0], "condition": "bank_months_coverd < 3"}]
    with pytest.raises(RuleSetError, match="did you mean bank_months_covered"):
        set_rules(real_stores, "org_1", bad, changed_by="ann")
    with pytest.raises(UnknownOrganizationError, match="org_nope"):
        set_rules(real_stores, "org_nope", SHORT, changed_by="ann")
    with pytest.raises(ValueError, match="--by"):
        set_rules(real_stores, "org_1", SHORT, changed_by=" ")
    with pytest.raises(UnknownOrganizationError):
        rule_set(real_stores, "org_nope")
    assert real_stores.rules.history("org_1") == [] and real_stores.rules.history("org_nope") == []
    assert _audit(real_stores, "org_1") == [] and _audit(real_stores, "org_nope") == []
    # Known through an underwriting alone (no purchase) is enough.
    real_stores.underwritings.upsert_underwriting("uw_9", "org_9")
    assert (
        set_rules(
            real_stores, "org_9", rules_as_data(DEFAULT_RULES), changed_by="ann"
        ).rule_set.version
        == 1
    )
