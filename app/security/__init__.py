"""Authentication and access control: hashed secrets, sessions and bearer tokens, and the
per-route role declarations with their default of deny."""
