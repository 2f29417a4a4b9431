"""The Piranha Configuration Tool: web panels, JSON API and Prometheus metrics on port 3636.

    from piranha.gui import GuiSettings, create_app
    app = create_app(GuiSettings(config_path=Path("/etc/sysconfig/ha/lvs.cf")))

`piranha gui` serves it with uvicorn; docs/gui.md is the manual.
"""

from .app import create_app
from .state import GuiSettings, GuiState

__all__ = ["GuiSettings", "GuiState", "create_app"]
