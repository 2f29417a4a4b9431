"""lvs.cf, read and written exactly: the model every daemon and the GUI share.

    cfg = parse(text, filename="lvs.cf", environment=None)  # ConfigError on any error
    cfg = load(path=None)                                    # $PIRANHA_CONFIG or /etc/sysconfig/ha/lvs.cf
    diagnostics = check(cfg)                                 # semantic checks only
    text = dumps(cfg)                                        # canonical layout
    text = update(original_text, cfg)                        # minimal edit, comments kept
    save(path, text)                                         # atomic, with PATH.bak

The file format is described in docs/lvs.cf.md.
"""

from .api import parse
from .checks import check
from .diagnostics import ConfigError, Diagnostic
from .environment import Environment
from .escapes import translate_escapes
from .files import DEFAULT_CONFIG_PATH, config_path, load, read_text, save
from .layout import relayout
from .model import Config, Failover, Server, Virtual
from .schema import SCHEDULERS
from .update import update
from .writer import dumps

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "SCHEDULERS",
    "Config",
    "ConfigError",
    "Diagnostic",
    "Environment",
    "Failover",
    "Server",
    "Virtual",
    "check",
    "config_path",
    "dumps",
    "load",
    "parse",
    "read_text",
    "relayout",
    "save",
    "translate_escapes",
    "update",
]
