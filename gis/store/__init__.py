"""commgrid's PostGIS machinery: engines, tables, users, audit, jobs, data versions, backups.

No global engine: create one with :func:`create_engine`, hand connections to the query
functions of each domain (:mod:`gis.plans`, :mod:`gis.incidents`, :mod:`gis.patrols`,
:mod:`gis.workers`), dispose of the engine when done. Schema changes go through
:mod:`gis.migrations`.

Modules: :mod:`~gis.store.engine` (engines, transactions, lost-connection errors),
:mod:`~gis.store.models` (the tables), :mod:`~gis.store.lookup` (district, plan and grid
resolution, one set of rules for every domain), :mod:`~gis.store.features` (the feature
sources of the served collections), :mod:`~gis.store.users`, :mod:`~gis.store.audit`,
:mod:`~gis.store.jobs`, :mod:`~gis.store.versions` and :mod:`~gis.store.backup`.
"""

from gis.store.engine import begin, connect, create_engine
from gis.store.models import Base, metadata

__all__ = ["Base", "begin", "connect", "create_engine", "metadata"]
