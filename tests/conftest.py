"""Hypothesis profiles: `dev` (the default) draws new examples every run; `ci`
(HYPOTHESIS_PROFILE=ci, set by .ci/run) draws the same ones every run, so a merge
is judged on the code, not on the luck of a draw. A failure `dev` finds prints the
example to pin with @example."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", print_blob=True)
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
