"""A typed Python client of the CRDA API (httpx), written against mobile_api_docs/openapi.json.

It imports nothing of the server: the demo, the end-to-end tests and any partner's script use
it the way the mobile app uses the API.
"""

from crda_client._generated import OPERATIONS, VERSION
from crda_client.client import Client, ProblemError

__all__ = ["OPERATIONS", "VERSION", "Client", "ProblemError"]
