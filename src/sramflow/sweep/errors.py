"""Typed errors of the design-space exploration (all ``SramflowError``: the CLI prints them, exit 2)."""

from __future__ import annotations

from sramflow.errors import SramflowError


class SweepError(SramflowError):
    """A sweep cannot run as asked (output folder, executor, cluster address, store)."""


class SweepSpaceError(SweepError):
    """A sweep space file is invalid; the message names the file and the key."""
