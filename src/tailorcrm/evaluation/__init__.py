"""Offline evaluation: splitting protocols, metrics and the engine behind ``tailorcrm evaluate``."""
