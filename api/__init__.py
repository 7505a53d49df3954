"""fenrun api package."""
