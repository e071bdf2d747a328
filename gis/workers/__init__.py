"""Grid workers: the roster a community posts (name, work phone, photo, duties) and its storage.

The roster's CSV file and photo checks (:mod:`~gis.workers.roster`), and the worker records
in the store: assigning, changing, retiring, the posted contact of a grid
(:mod:`~gis.workers.store`).
"""
