"""Background jobs behind one small interface: in-process by default, rq on Redis when REDIS_URL is set."""
