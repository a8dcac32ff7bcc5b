"""REST handlers, one module per area of the seed API."""
