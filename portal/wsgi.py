"""WSGI entry points: the Django application that serves every page.

``application`` is Django's; ``pages_application`` is what uWSGI serves in
production (``manage.py serve --only pages``): the same, with the client's
address taken from a trusted proxy's ``X-Forwarded-For`` as uvicorn does.
"""

import os

from django.core.wsgi import get_wsgi_application

from portal.core.proxy import ForwardedClientMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_wsgi_application()
pages_application = ForwardedClientMiddleware(application)
