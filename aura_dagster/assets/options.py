"""Pipeline options (seed 004 §1) for one run: run config first, then run tags, then defaults.

Set them in the launchpad as run config of any job,

    resources:
      pipeline_options:
        config: {skip_review: true, auto_approve_above: 0.5}

or, where no run config can be given (a backfill, a sensor), as run tags
`aura/option/<name>` (`aura/option/force_reprocess: "true"`). A value set in run config wins
over a tag. docs/operating-ui.md describes each option.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from dagster import ConfigurableResource
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aura_dagster.domain.validation import DEFAULT_AUTO_APPROVE_ABOVE
from aura_dagster.tags import OPTION_TAG_PREFIX

StartFrom = Literal["processors", "review"]


class OptionError(ValueError):
    """An option given in run config or a run tag has no valid value."""


class PipelineOptions(BaseModel):
    """The options in force for a run (every field resolved)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # processors: run everything (the default); review: report the recorded executions again
    # (no processor runs, no cost) and re-decide the review gate and the completion event.
    start_from: StartFrom = "processors"
    skip_review: bool = False  # never park: approve whatever the checks and confidences say
    skip_validation: bool = False  # failed factor checks do not park the case
    force_reprocess: bool = False  # run processors even when a completed execution matches
    auto_approve_above: float = Field(DEFAULT_AUTO_APPROVE_ABOVE, ge=0.0, le=1.0)
    notify_on_review: bool = True  # e-mail when a case is parked for review

    def non_defaults(self) -> dict[str, Any]:
        default = PipelineOptions()
        return {k: v for k, v in self.model_dump().items() if getattr(default, k) != v}


OPTION_NAMES = tuple(PipelineOptions.model_fields)
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def _from_tag(name: str, raw: str) -> Any:
    annotation = PipelineOptions.model_fields[name].annotation
    if annotation is bool:
        value = raw.strip().lower()
        if value not in _TRUE | _FALSE:
            raise OptionError(f"run tag {OPTION_TAG_PREFIX}{name}={raw!r}: expected true or false")
        return value in _TRUE
    return raw.strip()


def resolve_options(configured: Mapping[str, Any], tags: Mapping[str, str]) -> PipelineOptions:
    """Merge run config (`configured`, None = unset), `aura/option/*` tags and defaults."""
    unknown = sorted(k[len(OPTION_TAG_PREFIX):] for k in tags
                     if k.startswith(OPTION_TAG_PREFIX)
                     and k[len(OPTION_TAG_PREFIX):] not in OPTION_NAMES)
    if unknown:
        raise OptionError(f"unknown pipeline option tag(s) {unknown}; options: "
                          f"{', '.join(OPTION_NAMES)}")
    values: dict[str, Any] = {}
    for name in OPTION_NAMES:
        if configured.get(name) is not None:
            values[name] = configured[name]
        elif f"{OPTION_TAG_PREFIX}{name}" in tags:
            values[name] = _from_tag(name, tags[f"{OPTION_TAG_PREFIX}{name}"])
    try:
        return PipelineOptions.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise OptionError(f"invalid pipeline options: {problems}") from exc


class PipelineOptionsResource(ConfigurableResource):
    """Seed 004's pipeline options as run config. Unset (null) fields fall back to the run's
    `aura/option/<name>` tags, then to the defaults (see PipelineOptions)."""

    start_from: str | None = None
    skip_review: bool | None = None
    skip_validation: bool | None = None
    force_reprocess: bool | None = None
    auto_approve_above: float | None = None
    notify_on_review: bool | None = None

    def resolve(self, tags: Mapping[str, str]) -> PipelineOptions:
        return resolve_options({name: getattr(self, name) for name in OPTION_NAMES}, tags)
