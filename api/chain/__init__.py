"""The chain side of the platform: compiler, artifacts, deployments, gateway, devnet."""
