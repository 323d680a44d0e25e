"""Who a credential belongs to: organisations (the tenants), users and API keys.

Only the table models live here, below `auth` (which resolves a credential to them) and the
`organisations`, `users` and `apikeys` packages (which manage them through the API).
"""
