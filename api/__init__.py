"""CRDA backend: the city app's API, the chain gateway and the operational CLI."""
