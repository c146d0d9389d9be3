"""``crda demo``: a day in the city, seeded through the HTTP API (see ``api.demo.run``).

The names the CLI uses are re-exported here. No module of the package imports ``api.demo``
itself (only its submodules, ``api.demo.<module>``), so these re-exports make no cycle.
"""

from api.demo.day import DemoError, Sizes
from api.demo.report import Report
from api.demo.run import Demo, run_demo
from api.demo.summary import print_report

__all__ = ["Demo", "DemoError", "Report", "Sizes", "print_report", "run_demo"]
