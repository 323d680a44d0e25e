"""Logging in, refreshing and logging out (OAuth2 password flow): above `auth`, which turns a
credential into a Principal, and `audit`, which records each login."""
