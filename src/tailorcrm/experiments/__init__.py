"""A/B tests of strategies and action catalogs: config, assignment, attribution, statistics."""
