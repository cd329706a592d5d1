"""The web dashboard: every study in a storage, live, on one port.

autoopt's own pages (studies, one study's optimizer leaderboard and pictures, a
comparison across tasks) are served next to optuna-dashboard's views, and any study's
page can be written as a self-contained HTML report.

>>> from autoopt.dashboard import create_app, serve
>>> serve("sqlite:///autoopt.db", port=8080)  # doctest: +SKIP
"""

from autoopt.dashboard.app import create_app
from autoopt.dashboard.report import write_report
from autoopt.dashboard.server import serve

__all__ = ["create_app", "serve", "write_report"]
