"""fenrun training package."""
