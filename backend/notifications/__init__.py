"""Notifications and reminders: the in-app list per user, the channels (SMS, e-mail) and the sweep."""
