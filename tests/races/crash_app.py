"""``uvicorn --factory crash_app:create``: the real mock-platform app that SIGKILLs itself at one point.

A SIGKILL sent from outside lands at a random instruction; these switches put it exactly between two
commits of one step, which is where a crash can leave state behind. Nothing of the app is changed: the
wrappers sit on the service *instances* of this one app (``app.state``), the routes call them as usual,
and the process dies with ``os.kill(os.getpid(), SIGKILL)`` — no ``finally``, no shutdown hook, no
compensation runs, exactly as if the OS had killed it there.

``MYNA_RACE_CRASH_AT`` (settings come from the usual ``MYNA_MOCK_*`` variables):

* ``after_phone_issue`` — right after the CA committed a smartphone certificate, before the registration
  records it (2-E register / iPhone provision);
* ``before_revoke`` — on the first certificate revocation, i.e. after the state change that asked for it
  committed (2-F stop, 3-E/3-F delete, 4-B supersede…);
* ``after_register_commit`` — after a registration committed as ``registered``, before its answer (with the
  certificates) is sent.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from fastapi import FastAPI

from mock_platform.app import create_app
from mock_platform.ca.profile import FormFactor

CRASH_AT = "MYNA_RACE_CRASH_AT"


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def create() -> FastAPI:
    app = create_app()
    point = os.environ.get(CRASH_AT, "")
    ca = app.state.ca_service
    lifecycle = app.state.lifecycle
    if point == "after_phone_issue":
        issue = ca.issue_certificate

        def issue_then_die(**arguments: Any) -> Any:
            issued = issue(**arguments)
            if arguments.get("form_factor", FormFactor.CARD) is not FormFactor.CARD:
                _die()
            return issued

        ca.issue_certificate = issue_then_die
    elif point == "before_revoke":

        def die_instead_of_revoking(*_: Any, **__: Any) -> Any:
            _die()

        ca.revoke = die_instead_of_revoking
    elif point == "after_register_commit":
        registration = lifecycle.registration

        def die_before_handing_over(registration_id: str, *, with_pem: bool = False) -> Any:
            if with_pem:  # only the register/provision answer carries the certificates
                _die()
            return registration(registration_id, with_pem=with_pem)

        lifecycle.registration = die_before_handing_over
    elif point:
        raise ValueError(f"unknown {CRASH_AT}={point!r}")
    return app
