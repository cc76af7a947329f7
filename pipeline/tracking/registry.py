"""Registering model versions, and the gate that moves the ``production`` alias only to a better one."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

from pipeline.tracking import PRODUCTION, TEST_SET_TAG

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateDecision:
    """What the promotion gate decided, and on which scores."""

    model: str
    version: int
    metric: str
    score: float
    production_version: int | None
    production_score: float | None
    promoted: bool
    reason: str

    def as_dict(self) -> dict:
        """JSON-ready."""
        return asdict(self)


def _production(client, name: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, PRODUCTION)
    except MlflowException:
        return None


def promote_if_better(client, name: str, version: int, metric: str, score: float,
                      required: str | None = None, test_set: str | None = None) -> GateDecision:
    """Point ``production`` at ``version`` if it beats the current production version on ``metric``.

    The current version's score is read from its run's metrics; a version whose run lacks
    the metric, or the ``required`` one (a figure every version now logs), counts as beaten, and so does one
    scored on another test set than ``test_set`` (its run's ``TEST_SET_TAG``: other data, so no comparison).
    Ties keep the current version. The decision is logged on the new version's run
    (``gate_*`` metrics and tags).
    """
    current = _production(client, name)
    current_score = lacks = elsewhere = None
    if current is not None:
        run = client.get_run(current.run_id).data
        current_score = run.metrics.get(metric)
        lacks = required if required and required not in run.metrics else None
        elsewhere = test_set is not None and run.tags.get(TEST_SET_TAG) != test_set
    if math.isnan(score):
        promoted, reason = False, f"{metric} is NaN"
    elif current is None:
        promoted, reason = True, "no production version yet"
    elif elsewhere:
        promoted, reason = True, f"production version {current.version} was scored on another test set"
    elif current_score is None or lacks:
        promoted, reason = True, f"production version {current.version} has no {lacks or metric}"
    elif score > current_score:
        promoted, reason = True, f"{metric} {score:.4f} beats {current_score:.4f} of version {current.version}"
    else:
        promoted, reason = False, f"{metric} {score:.4f} does not beat {current_score:.4f} of version {current.version}"
    if promoted:
        client.set_registered_model_alias(name, PRODUCTION, str(version))
    decision = GateDecision(name, int(version), metric, float(score), int(current.version) if current else None,
                            current_score, promoted, reason)
    run_id = client.get_model_version(name, str(version)).run_id
    client.set_tag(run_id, "gate.promoted", str(promoted).lower())
    client.set_tag(run_id, "gate.reason", reason)
    client.set_tag(run_id, "gate.metric", metric)
    if current_score is not None:
        client.log_metric(run_id, "gate_production_score", current_score)
    client.log_metric(run_id, "gate_score", float(score))
    log.info("%s version %s: %s (%s)", name, version, "promoted to production" if promoted else "not promoted",
             reason)
    return decision
