"""crmsim: an open engine for the classroom CRM bidding simulation (客户关系管理模拟).

The packages below install under this namespace from the repository's top-level folders:
``crmsim.sim`` (the engine), ``crmsim.agents`` (firms, customers, bots), ``crmsim.scenarios``,
``crmsim.web`` (the classroom server) and ``crmsim.research`` (batches, environments, validation).
This package itself holds only the version, :class:`InputError`, the optional extras
(:mod:`crmsim.extras`) and the command line (:mod:`crmsim.cli`).
"""

from __future__ import annotations

__version__ = "0.2.0"


class InputError(ValueError):
    """An argument or input file that breaks a rule, found before any work starts.

    Research batches raise it for their settings and input data; the command line reports it
    as a user error (a message and exit status 2, no traceback), unlike a ValueError from a bug.
    """
