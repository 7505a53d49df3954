"""fenrun dashboards package."""
