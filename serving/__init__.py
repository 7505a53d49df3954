"""fenrun serving package."""
