"""fenrun features package."""
