"""A second process signing with a platform key (nonce tests only).

``python -m tests.chain.nonce_sender <account index> <count> <to>`` connects like ``crda worker``
(``CRDA_`` environment, nonces from the database), prints ``ready``, waits for a line on stdin,
then sends ``count`` transfers of 1 wei to ``to`` from devnet account ``<account index>``, from
two threads at once, and prints the nonce of each mined one as JSON.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

from api.chain.gateway import ChainGateway
from api.db import make_engine, make_session_factory
from api.settings import Settings
from tests.conftest import devnet_account


def main(index: int, count: int, to: str) -> None:
    settings = Settings()
    engine = make_engine(settings.database_url)
    gateway = ChainGateway.connect(settings, sessions=make_session_factory(engine))
    signer = devnet_account(index)
    print("ready", flush=True)
    sys.stdin.readline()

    def send(_: int) -> int:
        receipt = gateway.send_value(signer, to, 1)
        return int(gateway.w3.eth.get_transaction(receipt["transactionHash"])["nonce"])

    with ThreadPoolExecutor(2) as pool:
        nonces = list(pool.map(send, range(count)))
    print(json.dumps(nonces), flush=True)
    engine.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
