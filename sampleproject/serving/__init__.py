"""The HTTP API of ``sampleproject serve``: FastAPI on uvicorn, Prometheus metrics.

:func:`sampleproject.serving.app.create_app` builds the application; the ``serve`` command
runs it with uvicorn. Nothing here is imported by the other commands.
"""
