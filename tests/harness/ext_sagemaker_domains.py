"""SageMaker domains as tests need them, beyond moto 5.2.5 (see README: "What the emulator lacks and how the harness
fills it"): moto's domains are `InService` at once, so CreateDomain may start `Pending` (`domains_start`, or the
environment variable EMULATOR_DOMAIN_INITIAL_STATUS) and a domain can be moved later (`set_domain_status`);
DescribeDomain of an unknown id answers `ResourceNotFound` as AWS does (moto: ValidationException); and an outage
knob (`domain_unavailable`): DescribeDomain of one domain answers 503 ServiceUnavailable meanwhile. Settings are
restored on every emulator reset.
"""
from __future__ import annotations

import datetime as dt
import os
import threading
from contextlib import contextmanager

from harness.ext_sagemaker import ResourceNotFound, ServiceUnavailable

REQUIRES = ("ext_sagemaker",)

#: Status a new domain starts in. None → the environment variable EMULATOR_DOMAIN_INITIAL_STATUS, else InService.
DOMAIN_INITIAL_STATUS: str | None = None

DOMAIN_STATUSES = ("Pending", "InService", "Updating", "Failed", "Update_Failed", "Deleting", "Delete_Failed")

_lock = threading.RLock()
#: domains whose DescribeDomain answers ServiceUnavailable (domain_unavailable)
_unavailable: set[str] = set()



def _initial_domain_status() -> str:
    status = DOMAIN_INITIAL_STATUS or os.environ.get("EMULATOR_DOMAIN_INITIAL_STATUS") or "InService"
    if status not in DOMAIN_STATUSES:
        raise ValueError(f"DOMAIN_INITIAL_STATUS {status!r} is not one of {DOMAIN_STATUSES}")
    return status


def _find_domain(domain_id: str):
    from moto.sagemaker.models import sagemaker_backends

    for account_id in list(sagemaker_backends.keys()):
        for region in list(sagemaker_backends[account_id].keys()):
            domain = sagemaker_backends[account_id][region].domains.get(domain_id)
            if domain is not None:
                return domain
    raise KeyError(f"no domain {domain_id} in the emulator")


def set_domain_status(domain_id: str, status: str, failure_reason: str = "", after: float | None = None) -> None:
    """Moves a domain to `status` (one of DOMAIN_STATUSES) now, or `after` seconds from now in the background.
    `failure_reason` is reported as FailureReason (use it with Failed / Update_Failed / Delete_Failed)."""
    if status not in DOMAIN_STATUSES:
        raise ValueError(f"{status!r} is not one of {DOMAIN_STATUSES}")
    domain = _find_domain(domain_id)

    def apply() -> None:
        domain.status = status
        domain.failure_reason = failure_reason
        domain.last_modified_time = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)

    if after:
        timer = threading.Timer(after, apply)
        timer.daemon = True
        timer.start()
    else:
        apply()


@contextmanager
def domains_start(status: str):
    """`with domains_start("Pending"): create domains…` — new domains start in `status` inside the block."""
    global DOMAIN_INITIAL_STATUS
    previous = DOMAIN_INITIAL_STATUS
    DOMAIN_INITIAL_STATUS = status
    _initial_domain_status()  # validates
    try:
        yield
    finally:
        DOMAIN_INITIAL_STATUS = previous


@contextmanager
def domain_unavailable(domain_id: str):
    """`with domain_unavailable(d): …` — inside the block DescribeDomain of `d` answers 503 ServiceUnavailable,
    a SageMaker outage for that domain: every caller sees a transient failure, however often it retries."""
    with _lock:
        _unavailable.add(domain_id)
    try:
        yield
    finally:
        with _lock:
            _unavailable.discard(domain_id)


def _reset() -> None:
    """Restores the settings the tests may change."""
    global DOMAIN_INITIAL_STATUS
    DOMAIN_INITIAL_STATUS = None
    with _lock:
        _unavailable.clear()


def install(emulator) -> None:
    from moto.sagemaker import models as sm_models

    domain_init = sm_models.Domain.__init__

    def domain_init_with_status(self, *args, **kwargs):
        domain_init(self, *args, **kwargs)
        self.status = _initial_domain_status()
        if self.tags is None:
            self.tags = []

    sm_models.Domain.__init__ = domain_init_with_status

    backend_cls = sm_models.SageMakerModelBackend
    describe_domain = backend_cls.describe_domain

    def describe_domain_or_not_found(self, domain_id: str):
        with _lock:
            if domain_id in _unavailable:
                raise ServiceUnavailable()
        if domain_id not in self.domains:
            raise ResourceNotFound(f"Domain {domain_id} not found.")
        return describe_domain(self, domain_id)

    backend_cls.describe_domain = describe_domain_or_not_found

    from harness.emulator import on_reset

    on_reset(_reset)
