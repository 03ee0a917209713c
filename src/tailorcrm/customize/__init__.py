"""Per-organization customization: CEL business rules, strategies, next best actions, exports."""
