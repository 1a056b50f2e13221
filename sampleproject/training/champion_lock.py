"""A lock that the registry holds, so that promotions and rollbacks move the champion one at a time.

MLflow has no compare-and-set for an alias: two ``promote`` at once would each read the
champion, compare with it and set the alias, and the last one would win even when it lost to
the first. MLflow does refuse, in one database transaction, to create a registered model
whose name exists, on every store (SQLite, PostgreSQL, a tracking server over REST): that
refusal is the lock. It is held while the registered model ``NAME.champion-lock`` exists; its
tag ``holder`` says who holds it (user@host, process, what for, and a random token).

It is held only while the champion is read again and moved (a few calls, well under a
second); cross-validation happens outside it. A holder that died (``kill -9``, a lost
machine) leaves it behind: a waiter that has seen the same holder for
:data:`STALE_SECONDS` of its own clock (no other machine's clock is trusted) breaks it.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sampleproject.errors import SampleProjectError
from sampleproject.inference.registry import REGISTERED_MODEL

HOLDER_TAG = "holder"
# A live holder keeps the lock for a few registry calls; two minutes means it is gone.
STALE_SECONDS = 120.0
# How long to wait for a lock before giving up (a stale one is broken before that).
WAIT_SECONDS = 300.0
POLL_SECONDS = 0.2

logger = logging.getLogger("sampleproject.promotion")


class LockTimeout(SampleProjectError):
    """The champion lock could not be taken in time (exit status 1)."""


def lock_name(model: str = REGISTERED_MODEL) -> str:
    """The registered model whose existence is the lock."""
    return f"{model}.champion-lock"


@contextlib.contextmanager
def champion_lock(
    client: MlflowClient,
    purpose: str,
    *,
    stale_seconds: float = STALE_SECONDS,
    wait_seconds: float = WAIT_SECONDS,
) -> Iterator[None]:
    """Hold the champion lock for the block; ``purpose`` is recorded with the holder."""
    name = lock_name()
    who = f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"
    me = f"{who}: {purpose} ({uuid.uuid4().hex})"
    _acquire(client, name, me, stale_seconds, wait_seconds)
    try:
        yield
    finally:
        _release(client, name, me)


def _acquire(
    client: MlflowClient, name: str, me: str, stale_seconds: float, wait_seconds: float
) -> None:
    deadline = time.monotonic() + wait_seconds
    seen: str | None = None
    since = 0.0
    while not _create(client, name, me):
        holder = _holder(client, name)
        if holder == me:  # our own creation, answered late and retried by the client
            return
        now = time.monotonic()
        if holder != seen:
            seen, since = holder, now
        elif holder is not None and now - since >= stale_seconds:
            logger.warning("breaking the lock %s: %s held it for %.0f s", name, holder, now - since)
            _delete_if_held_by(client, name, holder)
            continue
        if now >= deadline:
            raise LockTimeout(
                f"the champion is locked by {holder or 'another process'} (the registered model "
                f"{name}); try again later, or delete {name} if that process is gone"
            )
        time.sleep(POLL_SECONDS * (0.5 + random.random()))  # noqa: S311 (jitter, not secrecy)


def _create(client: MlflowClient, name: str, me: str) -> bool:
    """Take the lock if it is free; False when someone holds it."""
    try:
        client.create_registered_model(
            name,
            tags={HOLDER_TAG: me},
            description="Held while sampleproject moves the champion alias; deleted afterwards.",
        )
    except MlflowException as error:
        if error.error_code == "RESOURCE_ALREADY_EXISTS":
            return False
        raise
    return True


def _holder(client: MlflowClient, name: str) -> str | None:
    """Who holds the lock: None when it is free, "" when its holder is not recorded (yet)."""
    try:
        return str(client.get_registered_model(name).tags.get(HOLDER_TAG, ""))
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def _delete_if_held_by(client: MlflowClient, name: str, holder: str) -> None:
    """Delete the lock if ``holder`` still holds it (a check, then a delete: see the module)."""
    if _holder(client, name) != holder:
        return  # released, or taken by someone else, meanwhile
    try:
        client.delete_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise


def _release(client: MlflowClient, name: str, me: str) -> None:
    try:
        _delete_if_held_by(client, name, me)
    except MlflowException as error:
        logger.warning(
            "cannot release the lock %s (%s): others will break it after %.0f s",
            name,
            str(error).strip().splitlines()[0] if str(error).strip() else error.error_code,
            STALE_SECONDS,
        )
