"""The ground floor: where things go and the project's base error.

It imports only the standard library, so every other package (``features``, ``models``,
``training``, ``serving`` and the ``techrisk`` command line) may import it without pulling
anything above it; ``techrisk/`` itself cannot hold these, as it imports everything.
"""
