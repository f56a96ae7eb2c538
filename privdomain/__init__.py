"""privdomain."""
