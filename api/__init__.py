"""The edges people touch: the FastAPI service (:func:`api.app.create_app`) and the ``commgrid`` command line."""
