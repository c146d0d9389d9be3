"""``python -m api.cli``: how ``crda up`` starts the API and the tests start a worker."""

from api.cli import app

app()
