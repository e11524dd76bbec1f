"""Pipeline options: run config, then `aura/option/*` run tags, then the defaults."""

from __future__ import annotations

import re

import pytest

from aura_dagster.assets.options import (
    OptionError,
    PipelineOptions,
    PipelineOptionsResource,
    resolve_options,
)


def test_defaults_are_seed_004s() -> None:
    assert PipelineOptions() == PipelineOptions(
        start_from="processors", skip_review=False, skip_validation=False,
        force_reprocess=False, auto_approve_above=0.70, notify_on_review=True)
    assert PipelineOptionsResource().resolve({}) == PipelineOptions()


def test_run_config_wins_over_a_tag_and_a_tag_over_the_default() -> None:
    tags = {"aura/option/skip_review": "true", "aura/option/auto_approve_above": "0.5",
            "aura/option/notify_on_review": "no", "dagster/partition": "uw_1"}
    options = PipelineOptionsResource(skip_review=False, start_from="review").resolve(tags)
    assert options.skip_review is False  # run config
    assert options.start_from == "review"  # run config
    assert options.auto_approve_above == 0.5 and options.notify_on_review is False  # tags
    assert options.force_reprocess is False  # default
    assert options.non_defaults() == {"start_from": "review", "auto_approve_above": 0.5,
                                      "notify_on_review": False}


@pytest.mark.parametrize(("configured", "tags", "message"), [
    ({}, {"aura/option/skip_reviews": "true"}, "unknown pipeline option tag(s) ['skip_reviews']"),
    ({}, {"aura/option/force_reprocess": "maybe"}, "expected true or false"),
    ({}, {"aura/option/auto_approve_above": "1.5"}, "auto_approve_above"),
    ({"start_from": "generate"}, {}, "start_from"),
])
def test_invalid_options_are_refused_with_the_reason(configured: dict, tags: dict,
                                                     message: str) -> None:
    with pytest.raises(OptionError, match=re.escape(message)):
        resolve_options(configured, tags)
