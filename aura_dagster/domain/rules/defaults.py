"""The rules an organization without its own rule set is judged by (version 0).

Knock-outs decline; what a person could still clear (a licence renewed since, a statement
month missing) parks the case for review.
"""

from __future__ import annotations

from aura_dagster.domain.rules.model import Rule

NSF_MONTH_LIMIT = 3
STACKING_POSITION_LIMIT = 3
MIN_MONTHS_COVERED = 3

DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        "active_bankruptcy",
        "biz_active_bankruptcy == true",
        "decline",
        "the business has an active bankruptcy",
    ),
    Rule(
        "not_in_good_standing",
        "sos_good_standing == false",
        "decline",
        "the business is not in good standing with the secretary of state",
    ),
    Rule(
        "drivers_license_expired",
        "dl_expired == true",
        "park",
        "the owner's driver's licence is expired",
    ),
    Rule(
        "nsf_in_a_month",
        f"$any([count > {NSF_MONTH_LIMIT} for count in bank_nsf_count_by_month.values])",
        "park",
        f"more than {NSF_MONTH_LIMIT} NSF events in a month",
    ),
    Rule(
        "stacking",
        f"bank_stacking_position_count > {STACKING_POSITION_LIMIT}",
        "park",
        f"more than {STACKING_POSITION_LIMIT} funding positions (stacking)",
    ),
    Rule(
        "short_history",
        f"bank_months_covered < {MIN_MONTHS_COVERED}",
        "park",
        f"the bank statements cover fewer than {MIN_MONTHS_COVERED} months",
    ),
)
