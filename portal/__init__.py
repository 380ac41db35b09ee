"""The Fufen web portal: one package per feature (accounts, community, …).

Each feature package exposes ``init_app(app)``; ``app.create_app`` calls them in order.
"""
