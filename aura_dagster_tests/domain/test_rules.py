"""Lender rules as data: the evaluator (decline beats park, missing factors park), the
default rules at their thresholds, the expression language's safety, and a rule set's
validation (every problem reported, with the parser's and the dictionary's words)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aura_dagster.domain.factors import FactorType
from aura_dagster.domain.rules import (
    DEFAULT_RULES,
    ConditionError,
    Rule,
    RuleSetError,
    compile_condition,
    dictionary_types,
    evaluate,
    rules_as_data,
    rules_from_data,
    rules_from_text,
)

# Every factor the defaults read, at values that fire none of them.
CLEAN: dict[str, Any] = {
    "biz_active_bankruptcy": False,
    "sos_good_standing": True,
    "dl_expired": False,
    "bank_nsf_count_by_month": {"2024-01": 0, "2024-02": 3, "2024-03": 1},
    "bank_stacking_position_count": 3,
    "bank_months_covered": 3,
}


def _fired(verdict: Any) -> dict[str, str]:
    return {f.name: f.action for f in verdict.fired}


def test_the_defaults_name_real_factors() -> None:
    types = dictionary_types()
    for rule in DEFAULT_RULES:
        assert set(compile_condition(rule.condition, types).factors) <= set(types)
    assert {r.name for r in DEFAULT_RULES} == {
        "active_bankruptcy",
        "not_in_good_standing",
        "drivers_license_expired",
        "nsf_in_a_month",
        "stacking",
        "short_history",
    }


def test_a_clean_case_fires_nothing() -> None:
    verdict = evaluate(DEFAULT_RULES, CLEAN)
    assert (verdict.action, verdict.fired, verdict.reasons) == ("none", (), ())


def test_bankruptcy_and_expired_licence_decline_with_both_reasons() -> None:
    """The demo case that was auto-approved: a knock-out declines, the park rides along."""
    verdict = evaluate(DEFAULT_RULES, {**CLEAN, "biz_active_bankruptcy": True, "dl_expired": True})
    assert verdict.action == "decline"
    assert _fired(verdict) == {"active_bankruptcy": "decline", "drivers_license_expired": "park"}
    assert verdict.reasons == (
        "active_bankruptcy: the business has an active bankruptcy",
        "drivers_license_expired: the owner's driver's licence is expired",
    )
    assert verdict.as_dict()["action"] == "decline"


@pytest.mark.parametrize(
    ("changes", "rule", "action"),
    [
        ({"sos_good_standing": False}, "not_in_good_standing", "decline"),
        ({"dl_expired": True}, "drivers_license_expired", "park"),
        ({"bank_nsf_count_by_month": {"2024-01": 0, "2024-02": 4}}, "nsf_in_a_month", "park"),
        ({"bank_stacking_position_count": 4}, "stacking", "park"),
        ({"bank_months_covered": 2}, "short_history", "park"),
    ],
)
def test_each_default_fires_just_past_its_threshold(
    changes: dict[str, Any], rule: str, action: str
) -> None:
    assert _fired(evaluate(DEFAULT_RULES, {**CLEAN, **changes})) == {rule: action}


def test_no_nsf_month_at_all_is_not_a_reason() -> None:
    assert evaluate(DEFAULT_RULES, {**CLEAN, "bank_nsf_count_by_month": {}}).action == "none"


@pytest.mark.parametrize("absent", ["missing", "null"])
def test_a_missing_factor_parks_naming_it_even_for_a_decline_rule(absent: str) -> None:
    values = dict(CLEAN)
    if absent == "missing":
        del values["biz_active_bankruptcy"]
    else:
        values["biz_active_bankruptcy"] = None
    verdict = evaluate(DEFAULT_RULES, values)
    assert verdict.action == "park"  # never declined on a missing factor, never passed
    (fired,) = verdict.fired
    assert (fired.name, fired.action, fired.missing) == (
        "active_bankruptcy",
        "park",
        ("biz_active_bankruptcy",),
    )
    assert "biz_active_bankruptcy is missing" in fired.reason


def test_decline_beats_park_whatever_the_order() -> None:
    rules = [
        Rule("p", "bank_months_covered < 3", "park", "short"),
        Rule("d", "bank_nsf_count > 9", "decline", "nsf"),
    ]
    values = {"bank_months_covered": 1, "bank_nsf_count": 10}
    assert evaluate(rules, values).action == "decline"
    assert evaluate(list(reversed(rules)), values).action == "decline"


def test_a_condition_that_fails_on_the_values_parks_with_the_message() -> None:
    rules = [Rule("m", "$max(bank_nsf_count_by_month.values) > 3", "decline", "nsf")]
    verdict = evaluate(rules, {"bank_nsf_count_by_month": {}})  # max of nothing
    assert verdict.action == "park"
    assert "failed on bank_nsf_count_by_month={}" in verdict.fired[0].reason
    wrong_type = evaluate(
        [Rule("n", "bank_nsf_count > 3", "decline", "nsf")], {"bank_nsf_count": "four"}
    )
    assert wrong_type.action == "park"


def test_a_stored_rule_whose_factor_left_the_dictionary_parks() -> None:
    rules = [Rule("old", "retired_factor > 1", "decline", "gone")]
    verdict = evaluate(rules, {"retired_factor": 5}, factor_types={"other": FactorType.INTEGER})
    assert verdict.action == "park"
    assert "unknown factor 'retired_factor'" in verdict.fired[0].reason


def test_dates_compare_as_dates_and_lists_have_lengths() -> None:
    rules = [
        Rule("old_licence", 'dl_expiration_date < d"2025-01-01"', "park", "old"),
        Rule("funders", "bank_stacking_funders.length >= 2", "park", "funders"),
    ]
    values = {"dl_expiration_date": "2024-12-31", "bank_stacking_funders": ["A", "B"]}
    assert _fired(evaluate(rules, values)) == {"old_licence": "park", "funders": "park"}
    values = {"dl_expiration_date": "2025-01-01", "bank_stacking_funders": ["A"]}
    assert evaluate(rules, values).action == "none"


@pytest.mark.parametrize(
    "condition",
    [
        "__import__('os').system('true')",
        "bank_nsf_count.__class__",
        "open('/etc/passwd')",
        "bank_nsf_count > 3; import os",
    ],
)
def test_conditions_cannot_reach_python(condition: str) -> None:
    with pytest.raises(ConditionError):
        compile_condition(condition, dictionary_types())


def test_a_rule_set_is_refused_with_every_problem() -> None:
    data = {
        "rules": [
            {"name": "a", "condition": "bank_nsf > 3", "action": "kill", "reason": "x"},
            {"name": "a", "condition": "bank_months_covered <", "action": "park", "reason": "y"},
            {"name": "b", "condition": "bank_months_covered", "action": "park", "reason": "y"},
            {
                "name": "c",
                "condition": "dl_expired == True",
                "action": "park",
                "reason": "y",
                "when": "always",
            },
            {
                "name": "d",
                "condition": 'bank_months_covered > "x"',
                "action": "park",
                "reason": "y",
            },
            {"name": "e", "condition": "bank_months_covered > 1", "action": "park"},
        ]
    }
    with pytest.raises(RuleSetError) as caught:
        rules_from_data(data)
    problems = caught.value.problems
    assert problems == (
        "rule 1 (a): unknown action 'kill'; one of park, decline",
        "rule 1 (a): unknown factor 'bank_nsf'; did you mean bank_months, bank_nsf_count, "
        "bank_month_gaps?",
        "rule 2 (a): syntax error: 'bank_months_covered <' ends too early",
        "rule 2 (a): the name 'a' is used twice",
        "rule 3 (b): the condition is a number, not true/false: compare it (e.g. `> 3`, `== true`)",
        "rule 4 (c): unknown field(s) when (a rule has name, condition, action, reason)",
        "rule 4 (c): unknown factor 'True': write true in lower case",
        "rule 5 (d): data type mismatch (bank_months_covered is integer)",
        "rule 6 (e): `reason` is required (text)",
    )


def test_a_syntax_error_says_where() -> None:
    with pytest.raises(ConditionError, match=r"syntax error at character 21 .*near '3'"):
        compile_condition("bank_months_covered 3", dictionary_types())


@pytest.mark.parametrize("data", [[], {"rules": []}, {"rule": []}, "x", {"rules": ["x"]}])
def test_shapes_that_are_not_a_rule_set(data: Any) -> None:
    with pytest.raises(RuleSetError):
        rules_from_data(data)


def test_toml_json_and_the_shown_form_read_back() -> None:
    toml = (
        '[[rules]]\nname = "bk"\ncondition = "biz_active_bankruptcy == true"\n'
        'action = "decline"\nreason = "bankrupt"\n'
    )
    (rule,) = rules_from_text(toml, "toml")
    assert rule == Rule("bk", "biz_active_bankruptcy == true", "decline", "bankrupt")
    shown = {
        "organization_id": "org_1",
        "version": 0,
        "source": "defaults",
        "changed_by": None,
        "changed_at": None,
        "note": None,
        "rules": rules_as_data(DEFAULT_RULES),
    }  # what `rules show --json` prints
    assert rules_from_text(json.dumps(shown), "json") == DEFAULT_RULES
    with pytest.raises(RuleSetError, match="not valid TOML"):
        rules_from_text("[[rules]\n", "toml")
    with pytest.raises(RuleSetError, match="not valid JSON"):
        rules_from_text("{", "json")


def test_processing_completed_can_say_declined_with_the_reasons() -> None:
    from aura_dagster.domain.events import ProcessingCompleted
    from aura_dagster.services.completion import completion_payload

    verdict = evaluate(DEFAULT_RULES, {**CLEAN, "biz_active_bankruptcy": True})
    payload = completion_payload(
        underwriting_id="uw_1",
        organization_id="org_1",
        run_id="run_1",
        executions=[],
        status="declined",
        reason="; ".join(verdict.reasons),
    )
    event = ProcessingCompleted.model_validate(payload)
    assert (event.status, event.reason) == (
        "declined",
        "active_bankruptcy: the business has an active bankruptcy",
    )
