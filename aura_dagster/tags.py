"""Run tags the sensor sets and the run reads (plain strings: no Dagster import needed)."""

JOB_NAME = "process_underwriting"
UNDERWRITING_ID_TAG = "aura/underwriting_id"
ORGANIZATION_ID_TAG = "aura/organization_id"
DOCUMENT_IDS_TAG = "aura/document_ids"  # JSON list; absent on backfills: all documents
EVENT_ID_TAG = "aura/event_id"  # Pub/Sub message id, for tracing back to the event
PRIORITY_TAG = "dagster/priority"

# Event priority -> dagster/priority (higher runs first in the queue).
PRIORITY_VALUES = {"normal": 0, "high": 5, "urgent": 10}

# Added to the run by the engine itself (UI, backfill and review runs included).
REVIEWER_TAG = "aura/reviewer"
REVIEW_DECISION_TAG = "aura/review_decision"  # approve | reject
# The gate's outcome, for the runs list: awaiting_review | auto_approved | approved |
# rejected | declined. A parked run's tag turns into the decision once a person decides.
REVIEW_TAG = "aura/review"
REVIEW_RUN_TAG = "aura/review_run"  # on a parked run: the run that decided it
REVIEW_REFUSED_TAG = "aura/review_refused"  # the case was not awaiting review: nothing changed
FAILED_PROCESSORS_TAG = "aura/failed_processors"  # "p_x:timeout,p_y:failed"
OPTION_TAG_PREFIX = "aura/option/"  # pipeline options on a backfill: aura/option/skip_review

# Failure metadata of a step that published the outcome itself before it failed (the load
# step's answer to an unknown id): the run-failure sensor then publishes nothing more.
OUTCOME_PUBLISHED_KEY = "aura/outcome_published"
