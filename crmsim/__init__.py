"""crmsim: an open engine for the classroom CRM bidding simulation (客户关系管理模拟).

The packages below install under this namespace from the repository's top-level folders:
``crmsim.sim`` (the engine), ``crmsim.agents`` (firms, customers, bots), ``crmsim.scenarios``,
``crmsim.web`` (the classroom server) and ``crmsim.research`` (batches, environments, validation).
This package itself holds only the version and the command line (:mod:`crmsim.cli`).
"""

__version__ = "0.2.0"
