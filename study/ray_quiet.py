"""Keep Ray's start and exit quiet on the terminal: two of its outputs are noise to our users.

* The notice "Token authentication is enabled for this Ray cluster. Set RAY_AUTH_MODE=disabled
  to opt out ..." is logged at every local start (Ray 2.5x enables token authentication by
  default). Authentication stays as Ray sets it; only this notice is dropped (its "disabled"
  counterpart, a security warning, is kept).
* Ray's CLI logger calls ``colorama.init()`` at import, which registers an exit handler writing
  ESC[0m to the terminal after our final table. That handler is unregistered.
"""

from __future__ import annotations

import atexit
import logging
import sys

AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
NOTICE = "Token authentication is enabled"


class _DropNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(NOTICE)


def quiet_ray() -> None:
    """Install both fixes (idempotent); call after ``import ray`` and before ``ray.init``."""
    logger = logging.getLogger(AUTH_LOGGER)
    if not any(isinstance(f, _DropNotice) for f in logger.filters):
        logger.addFilter(_DropNotice())
    for name, module in list(sys.modules.items()):
        if name.endswith("colorama.initialise") and hasattr(module, "reset_all"):
            atexit.unregister(module.reset_all)
