"""Chain writes through an outbox: recorded with the business change, sent by a worker."""
