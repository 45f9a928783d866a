"""Monitoring of served decisions: drift against training, champion vs shadow, realised
defaults (``techrisk monitor``, ``techrisk outcomes``), and the shadow scorer itself."""
