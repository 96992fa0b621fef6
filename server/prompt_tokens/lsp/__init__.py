"""The language server: a thin pygls layer over the engine (``runtime.Runtime``).

pygls is imported only under this package. ``state`` holds the data, ``base`` the server
object handlers receive; every other module is one concern whose handlers
``server.create_server`` registers. Nothing imports ``server`` but the start-up
(``bootstrap``), so the modules form no import cycle (``scripts/import_graph.py``).
"""
