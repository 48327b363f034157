"""Sites (tenants): their API keys, webhook settings and decision policies."""
