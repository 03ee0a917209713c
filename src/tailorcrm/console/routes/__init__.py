"""Console routes, one module per page: each reads through a view and renders a template."""
