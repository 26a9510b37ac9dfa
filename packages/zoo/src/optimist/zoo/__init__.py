"""Trained models of the Optimist zoo, as data: ``models/<zoo name>/`` (weights and card) and ``manifest.json``.

Nothing to import by hand: ``optimist.core.zoo.get(name)`` finds these through the ``optimist.zoo`` entry point.
"""
