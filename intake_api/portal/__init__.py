"""The Japanese web portal for department staff, operators and admins.

``intake_api.portal.app.install(app)`` adds its pages under ``/portal`` (``/``
redirects there) and its static files under ``/portal/static``. The menu is
one ordered list in ``web.NAV``; a kind's new-job fields and job-page
fragment live in the kind's folder (``JobKind.portal``). Pages call the
application layer (``services``), never the API's routes.
"""
