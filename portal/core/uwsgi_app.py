"""What each of uWSGI's page processes runs (``portal.core.pages_server.uwsgi_argv``)."""

from __future__ import annotations

from portal.core.pages_server import LastResort, prepared
from portal.wsgi import pages_application

application = prepared(LastResort(pages_application))
