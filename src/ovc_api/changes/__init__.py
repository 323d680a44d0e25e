"""The change feed: every change of the records the caller may see, in commit order."""
