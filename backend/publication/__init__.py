"""Publication: the working-day calendar and deadlines (publishing itself comes later)."""
