"""Calling back an abandoned or silent caller, through `agent_console.ami.call_back` when deployed.

The console only asks; ringing the call-taker's phone and then the caller (AMI Originate) and
auditing it is the AMI module's work. Without it, or without a manager account in the
settings, the button is shown disabled and the API answers 503.
"""

from __future__ import annotations

import importlib

from flask import request

from siaga112.errors import ApiError
from siaga112.i18n import message


def _ami_call_back():
    try:
        module = importlib.import_module("agent_console.ami")
    except ModuleNotFoundError as error:
        if error.name != "agent_console.ami":
            raise
        return None
    return getattr(module, "call_back", None)


def available(runtime) -> bool:
    """Whether a call-back can be placed from this console (module deployed, manager account set)."""
    return _ami_call_back() is not None and bool(runtime.settings.ami_username)


def call_back(runtime, user, call):
    """Start the call-back; returns the AMI ActionID. Refusals arrive as ApiError sentences."""
    function = _ami_call_back()
    if function is None or not runtime.settings.ami_username:
        raise ApiError(503, "callback_unavailable", "Call-back is not available: the Asterisk manager is not set up.",
                       words=message("callbacks.unavailable"))
    return function(runtime, user, call, ip=request.remote_addr)
