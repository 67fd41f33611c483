"""The web console and REST API, served by ``prizm serve``."""

from prizm.web.app import WebSettings, create_app

__all__ = ["WebSettings", "create_app"]
