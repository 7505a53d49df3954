"""fenrun settlement package."""
