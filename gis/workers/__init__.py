"""Grid workers: the roster a community posts (name, work phone, photo, duties) and its storage.

The roster's file and photo checks and the worker records in the store
(:mod:`~gis.workers.store`).
"""
