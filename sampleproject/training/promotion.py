"""Promotion and rollback: the registry alias ``champion`` is what deployment serves.

A version is promoted only when its recipe passes the quality gate and is not worse than the
champion's on the same evaluation: both recipes (their logged parameters) are cross-validated
now, on the same data, with the same folds and seed. The deciding metric is macro F1 (every
class counts alike, and the rare ones are where models differ); "not worse" means at least
the champion's figure, so a retrained identical recipe may be promoted. Every move of the
alias is written on the version: tags (who, when, why) and a line added to its description.

Promotions and rollbacks at once (two operators, two CI jobs) are safe against each other:
the alias is moved only under the registry's champion lock (:mod:`.champion_lock`), and a
promotion moves it only if the champion it compared with is still the champion; if the
champion moved meanwhile, the candidate is compared with the new one first.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sampleproject.errors import SampleProjectError, UsageError
from sampleproject.inference.registry import CHAMPION, REGISTERED_MODEL
from sampleproject.training import gate
from sampleproject.training.champion_lock import champion_lock
from sampleproject.training.config import TrainConfig
from sampleproject.training.data import Dataset
from sampleproject.training.evaluation import cross_validate
from sampleproject.training.model import build_classifier

DECIDING_METRIC = "f1_macro"


class PromotionRefused(SampleProjectError):
    """The candidate failed the gate or is worse than the champion (exit status 1)."""


@dataclass(frozen=True)
class Decision:
    """What promotion found: the versions and their figures on the same evaluation."""

    candidate: str
    candidate_metrics: dict[str, float]
    champion: str | None
    champion_metrics: dict[str, float] | None

    def summary(self) -> str:
        """One line: both figures of the deciding metric."""
        figure = self.candidate_metrics[DECIDING_METRIC]
        mine = f"version {self.candidate} {DECIDING_METRIC} {figure:.4f}"
        if self.champion_metrics is None:
            return f"{mine}; there was no champion"
        theirs = self.champion_metrics[DECIDING_METRIC]
        return f"{mine}, champion version {self.champion} {theirs:.4f}"


def promote(
    client: MlflowClient, version: str, config: TrainConfig, dataset: Dataset, reason: str
) -> Decision:
    """Move ``champion`` to ``version`` if it passes the gate and is not worse; else raise."""
    candidate = evaluate(client, version, config, dataset)
    failures = gate.gate_failures(candidate, config.gate.minimums())
    if failures:
        raise PromotionRefused(
            f"version {version} fails the quality gate ({'; '.join(failures)}): not promoted"
        )
    figures = {version: candidate}  # the figures of each version evaluated, by version
    champion = current_champion(client)
    while True:
        # Cross-validation takes seconds: outside the lock, which others may need meanwhile.
        if champion is not None and champion not in figures:
            figures[champion] = evaluate(client, champion, config, dataset)
        decision = Decision(
            version, candidate, champion, None if champion is None else figures[champion]
        )
        with champion_lock(client, f"promote version {version}"):
            now = current_champion(client)
            if now == champion:  # still the one compared with: decide, and move
                _decide(client, decision, reason)
                return decision
        champion = now  # moved by someone else meanwhile: compare with that one


def _decide(client: MlflowClient, decision: Decision, reason: str) -> None:
    """Move the alias to the candidate, unless it is worse than the champion."""
    if decision.champion_metrics is not None and (
        decision.candidate_metrics[DECIDING_METRIC] < decision.champion_metrics[DECIDING_METRIC]
    ):
        raise PromotionRefused(f"worse than the champion ({decision.summary()}): not promoted")
    _move_champion(client, decision.candidate, f"promoted ({decision.summary()}){_because(reason)}")


def rollback(client: MlflowClient, version: str, reason: str) -> str | None:
    """Move ``champion`` back to ``version`` (no evaluation: it was champion-worthy before)."""
    _version(client, version)  # it must exist
    with champion_lock(client, f"roll back to version {version}"):
        previous = current_champion(client)
        _move_champion(client, version, f"rolled back from version {previous}{_because(reason)}")
    return previous


def current_champion(client: MlflowClient) -> str | None:
    """The version the alias points at, or None."""
    try:
        return str(client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION).version)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def latest_version(client: MlflowClient) -> str:
    """The newest registered version."""
    versions = client.search_model_versions(f"name='{REGISTERED_MODEL}'")
    if not versions:
        raise SampleProjectError(f"no version of {REGISTERED_MODEL} is registered: run train")
    return str(max(int(found.version) for found in versions))


def evaluate(
    client: MlflowClient, version: str, config: TrainConfig, dataset: Dataset
) -> dict[str, float]:
    """Cross-validate ``version``'s recipe (its run's model parameters) with ``config``'s
    folds and seed on ``dataset``."""
    run = client.get_run(_version(client, version).run_id)
    params = run.data.params
    model = {name: params.get(name) for name in type(config.model).model_fields}
    recipe = config.model_copy(update={"model": type(config.model).model_validate(_numbers(model))})
    result = cross_validate(
        build_classifier(recipe), dataset, config.cross_validation.folds, config.seed
    )
    return result.metrics()


def _numbers(values: dict[str, str | None]) -> dict[str, int | None]:
    """MLflow stores parameters as text; ``None`` stays None."""
    return {
        name: None if value in (None, "None") else int(str(value)) for name, value in values.items()
    }


def _version(client: MlflowClient, version: str) -> Any:
    try:
        return client.get_model_version(REGISTERED_MODEL, version)
    except MlflowException as error:
        raise UsageError(f"{REGISTERED_MODEL} has no version {version}") from error


def _move_champion(client: MlflowClient, version: str, what: str) -> None:
    """Set the alias and record who moved it, when and why, on the version."""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION, version)
    for key, value in {"champion_at": when, "champion_by": who, "champion_why": what}.items():
        client.set_model_version_tag(REGISTERED_MODEL, version, key, value)
    found = client.get_model_version(REGISTERED_MODEL, version)
    history = (found.description or "").rstrip()
    line = f"{when} {who}: {CHAMPION}: {what}"
    client.update_model_version(
        REGISTERED_MODEL, version, description=f"{history}\n{line}".lstrip()
    )


def _because(reason: str) -> str:
    return f": {reason}" if reason else ""


def registry_client(tracking_uri: str) -> MlflowClient:
    """An MLflow client for the tracking store (MLflow's own messages kept to warnings)."""
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=tracking_uri)
