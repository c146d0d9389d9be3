"""``crda demo``: a day in the city, seeded through the HTTP API (see ``api.demo.run``)."""

from api.demo.run import Demo, DemoError, Report, Sizes, print_report, run_demo

__all__ = ["Demo", "DemoError", "Report", "Sizes", "print_report", "run_demo"]
