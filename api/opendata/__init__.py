"""Open data: the statistics the city may publish (aggregates only, small cells suppressed)."""
