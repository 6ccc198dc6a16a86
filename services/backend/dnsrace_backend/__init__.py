"""A backend: a tiny HTTP server standing in for one load balancer behind the endpoint."""
