"""piranha: the LVS Load Balancer Add-On ("Piranha") rebuilt in Python."""

__version__ = "0.9.0"
