"""Inspections (检查记录): one target's joint inspection by its group."""
