"""API tokens: hashed secrets with a scope, shown once, revocable."""
