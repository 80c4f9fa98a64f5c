"""Test helpers shipped with polyface: local fakes of vendor APIs (the ``fake`` extra: starlette + uvicorn).

Import the submodules directly, e.g. ``from polyface.testing.fake_together import FakeTogether``; this package
imports nothing so that ``import polyface`` never needs the ``fake`` extra.
"""
