"""The language server: a thin pygls layer over the engine (see ``server.create_server``).

pygls is imported only under this package. ``server.PromptTokensServer`` owns all mutable
state; every other module registers the handlers of one concern with ``register(server)``.
"""
