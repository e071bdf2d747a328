"""The edges people touch: the FastAPI service (:func:`api.app.create_app`) and the ``commgrid`` command line.

Modules: the app (:mod:`api.app`), its routes (:mod:`api.routes`: collections, features,
tiles, map, public page, plans, jobs, incidents, Open311, analytics, patrols, workers,
audit), roles and tokens (:mod:`api.access`), body and rate limits (:mod:`api.limits`),
the audit of personal-data reads (:mod:`api.audit`), request dependencies
(:mod:`api.dependencies`), errors as HTTP answers (:mod:`api.errors`), settings
(:mod:`api.settings`), the database choice (:mod:`api.database`), partition jobs
(:mod:`api.jobs`) and the web map's style (:mod:`api.style`, pages in ``static/``).

Subpackages: :mod:`api.routes` and :mod:`api.cli` (the ``commgrid`` command line, one module
per command group).
"""
