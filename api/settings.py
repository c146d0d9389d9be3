"""One settings object, read from the environment (prefix ``CRDA_``).

Safe local defaults let the embedded setup (SQLite, a devnet on 127.0.0.1) run with no
configuration at all. They are public, so they are accepted only in local development (the
development or test environment; the API, its public URL and the node on loopback): anywhere
else every process refuses to start until each secret is set (fail closed).
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The devnet's well-known accounts (Hardhat and anvil derive them from the public mnemonic
# "test test ... junk"). Fine on a devnet, refused anywhere else.
DEVNET_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)
# The devnet admin: account 9 (DEVNET_KEYS[9]), a key none of the platform's processes holds.
DEVNET_ADMIN_ADDRESS = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"


def _normal(secret: str) -> str:
    return secret.strip().lower().removeprefix("0x")


_DEVNET_KEYS = frozenset(_normal(key) for key in DEVNET_KEYS)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

# Development placeholders of the identity secrets (public: refused outside local development).
DEV_MASTER_KEY = "ZGV2LW9ubHktbWFzdGVyLWtleS1kby1ub3QtdXNlISE"  # 32 bytes, base64url
DEV_PEPPER = "dev-only-uniqueness-pepper"
# The password of every account `crda demo` makes, staff included (published: the API refuses to
# start outside local development while a staff account signs in with it).
DEMO_PASSWORD = "a-day-in-the-city-2026"  # noqa: S105


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    """Configuration of every CRDA process (API, CLI, workers)."""

    model_config = SettingsConfigDict(env_prefix="CRDA_", env_file=".env", extra="ignore")

    environment: Environment = Environment.development

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'crda.db'}"
    rpc_url: str = "http://127.0.0.1:8545"
    # Blocks to wait before a receipt counts as final: 0 on the devnet, more on a real network.
    confirmations: int = Field(default=0, ge=0)
    receipt_poll_interval: float = Field(default=0.05, gt=0)
    receipt_timeout: float = Field(default=60.0, gt=0)
    # Whether the API refuses to start when the chain or deployment is not what was deployed.
    check_chain_on_start: bool = True
    # Whether the API process also runs the background workers (outbox); the embedded setup
    # does, a scaled deployment runs `crda worker` processes instead.
    run_workers: bool = True
    worker_interval: float = Field(default=0.2, gt=0)
    # Seconds a background loop's lease (api/leases.py) lasts unless renewed: how long a standby
    # process waits before it takes over from a holder that died.
    lease_ttl: float = Field(default=15.0, gt=0)

    # Earning: methodology, claim window, caps, batching.
    methodology_version: str = "2026.3"
    # Production issues on a factor set with placeholder factors only if it is named here.
    accept_placeholder_factors: str = ""
    # Evidence older than this (activity end to submission) is refused.
    claim_window_days: int = Field(default=30, ge=1)
    # Evidence dated further than this in the future is refused (partners' clock drift).
    evidence_future_skew_seconds: int = Field(default=300, ge=0)
    # Caps per citizen in grams (= credits), counted by the activity's local calendar day and
    # year, in the spirit of the national carbon-neutral point scheme's yearly cap.
    daily_cap_grams: int = Field(default=10_000, ge=1)
    yearly_cap_grams: int = Field(default=500_000, ge=1)
    # Local time of the caps' days and years (Korea: UTC+9, no daylight saving).
    earning_utc_offset_hours: int = Field(default=9, ge=-12, le=14)
    # A batch is sent when it holds this many claims, or when its oldest claim waited this long.
    issuance_batch_size: int = Field(default=100, ge=1, le=1000)
    issuance_batch_max_wait: float = Field(default=2.0, ge=0)
    # Seconds an identity-registry answer is reused (0: ask the chain on every submission).
    attestation_cache_seconds: float = Field(default=5.0, ge=0)

    # Open data: a published cell counts at least this many distinct citizens, or is suppressed.
    open_data_min_citizens: int = Field(default=10, ge=2)

    artifacts_path: Path = PROJECT_ROOT / "build" / "contracts.json"
    deployments_dir: Path = PROJECT_ROOT / "deployments"
    contracts_dir: Path = PROJECT_ROOT / "contracts"

    # The audit indexer: runs inside the API process unless disabled (then `crda index`).
    indexer_enabled: bool = True
    # Blocks the indexer stays behind the head: 0 on the devnet, more on a real network.
    indexer_confirmations: int = Field(default=0, ge=0)
    # Most blocks per eth_getLogs (the indexer halves it when the node refuses a range).
    indexer_block_range: int = Field(default=2000, ge=1)
    # Logs per step the indexer aims at (one database transaction each).
    indexer_max_logs: int = Field(default=20_000, ge=1)
    indexer_poll_interval: float = Field(default=1.0, gt=0)

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    # Bearer token a Prometheus scraper presents to read /metrics (operational data, no
    # personal data). Unset: /metrics is open in development and test, closed in production.
    metrics_token: SecretStr = SecretStr("")

    # Operator key: deploys the contracts, hands their admin role to the timelock, then holds
    # only narrow roles (accrediting verifiers, pausing, minting and burning won).
    operator_key: SecretStr = SecretStr(DEVNET_KEYS[0])
    # Issuer key: the outbox worker that sends issuance batches (ISSUER_ROLE only).
    issuer_key: SecretStr = SecretStr(DEVNET_KEYS[1])
    # Relayer key: pays gas for citizens' forwarded requests.
    relayer_key: SecretStr = SecretStr(DEVNET_KEYS[2])
    # The admin: the only proposer and executor of the timelock that holds every contract's
    # DEFAULT_ADMIN_ROLE. Only its address is here; its key (CRDA_ADMIN_KEY) is read by
    # `crda admin` alone (AdminSettings), never by the API or the worker.
    admin_address: str = DEVNET_ADMIN_ADDRESS
    # The timelock's minimum delay in seconds between proposing and executing a role change
    # (default two days; one minute in local development unless set).
    timelock_delay: int = Field(default=2 * 24 * 3600, ge=0)

    # -- identity -------------------------------------------------------------------------
    # Public base URL of this API: status lists and the verifiers' did:web documents live here.
    public_url: str = "http://127.0.0.1:8000"
    # Session tokens (JWT, ES256). JSON object {kid: PEM private key}; every key verifies,
    # ``session_active_kid`` signs (rotation: add a key, switch, drop the old one later).
    # Empty in development: a fixed development key, refused in production.
    session_keys: SecretStr = SecretStr("")
    session_active_kid: str = ""
    session_issuer: str = "crda"
    session_audience: str = "crda-app"
    access_token_ttl: int = Field(default=600, ge=30, le=3600)
    refresh_token_ttl: int = Field(default=30 * 24 * 3600, ge=600)
    # Envelope encryption: 32-byte master key (base64url) that wraps every per-record data key.
    master_key: SecretStr = SecretStr(DEV_MASTER_KEY)
    # HMAC pepper of the uniqueness key derived from a national identifier.
    uniqueness_pepper: SecretStr = SecretStr(DEV_PEPPER)
    # Sign-In with Ethereum: the domain (and URI) a message must name; nonces live this long.
    siwe_domain: str = "127.0.0.1:8000"
    siwe_nonce_ttl: int = Field(default=300, ge=30, le=3600)
    # Password sign-in back-off (api/auth/service.py), counted in the database per (email,
    # client address): this many attempts are free, then each further one waits
    # ``sign_in_backoff_base`` seconds, doubling, at most ``sign_in_backoff_max``; a client's
    # count is forgotten ``sign_in_window`` seconds after its last attempt (keep it above the
    # longest wait, or the count starts again), and on a successful sign-in.
    sign_in_max_failures: int = Field(default=5, ge=1)
    sign_in_window: int = Field(default=3600, ge=1)
    sign_in_backoff_base: int = Field(default=2, ge=1)
    sign_in_backoff_max: int = Field(default=900, ge=1)
    # Failed sign-ins of one email from every client within ``sign_in_window`` beyond which
    # the account is under attack: a client with a failure on it then gets one free attempt
    # instead of ``sign_in_max_failures`` (it slows guessing; it never locks the owner out).
    sign_in_account_budget: int = Field(default=50, ge=1)
    # Most SIWE nonces one client address is handed per ``siwe_nonce_ttl`` (bounds the table).
    siwe_nonce_max_per_client: int = Field(default=20, ge=1)

    # -- rate limits (api/ratelimit.py) ---------------------------------------------------
    # Limits in the `limits` notation ("20/minute;200/hour": every part holds), per client
    # address on unauthenticated routes and per account on signed-in ones; a request beyond
    # one is a 429 `/problems/too-many-requests` with `Retry-After`. Defaults a phone never
    # reaches but that stop a scraper; off only where many requests from one address are the
    # point (tests of other things, benchmarks, the local demo platform).
    rate_limits_enabled: bool = True
    # Where the counters live: "database" (the platform's database, exact across API
    # processes), or a `limits` storage URI: "memory://" (one process only) or
    # "redis://host:6379" (shared; needs the redis package).
    rate_limit_storage_url: str = "database"
    # Every unauthenticated route, per client address.
    rate_limit_public: str = "300/minute;5000/hour"
    # Sign-up, password and wallet sign-in, per client address (on top of the public limit).
    rate_limit_sign_in: str = "20/minute;200/hour"
    # SIWE nonce issuance, per client address.
    rate_limit_siwe_nonce: str = "10/minute;100/hour"
    # Certificate verification (scans the chain's logs), per client address.
    rate_limit_certificate_verify: str = "20/minute;200/hour"
    # A certificate, JSON or printable page (replays the holder's history), per client address.
    rate_limit_certificate: str = "30/minute;300/hour"
    # Every signed-in request, per account (one window: each is a counter write per request).
    rate_limit_account: str = "1200/minute"
    credential_ttl_days: int = Field(default=365, ge=1, le=5 * 365)
    # Gas money the operator gives a new verifier's address (wei), so it can attest.
    verifier_gas_allowance: int = Field(default=10**17, ge=0)
    # Market (operator-configurable): prices in won per kilogram, quantities in grams.
    market_min_price: int = Field(default=1, ge=1)
    market_max_price: int = Field(default=10_000_000, ge=1)
    # Largest order, in grams (a whole number of kilograms).
    market_max_order_grams: int = Field(default=100_000_000, ge=1000)
    # A new order's price may be at most this many percent from the last trade (0: no band).
    market_price_band_percent: int = Field(default=50, ge=0)
    # Per-citizen limits: open orders at once, and how far ahead an order may expire.
    market_max_open_orders: int = Field(default=50, ge=1)
    market_max_order_lifetime: int = Field(default=30 * 24 * 3600, ge=60)
    # Fills per settleBatch transaction.
    market_settlement_batch_size: int = Field(default=100, ge=1, le=200)

    @field_validator(
        "rate_limit_public",
        "rate_limit_sign_in",
        "rate_limit_siwe_nonce",
        "rate_limit_certificate_verify",
        "rate_limit_certificate",
        "rate_limit_account",
    )
    @classmethod
    def _limits_parse(cls, value: str) -> str:
        """A limit the `limits` library cannot read fails at start, not on a request."""
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit ({exc}); e.g. '20/minute;200/hour'") from exc
        return value

    @model_validator(mode="after")
    def _local_urls_follow_the_port(self) -> Settings:
        """Unset, the public URL and SIWE domain name the API's own host and port (a local
        run on another port gets QR codes and sign-in messages that point at itself)."""
        host = f"[{self.api_host}]" if ":" in self.api_host else self.api_host  # IPv6
        local = f"{host}:{self.api_port}"
        if "public_url" not in self.model_fields_set:
            self.public_url = f"http://{local}"
        if "siwe_domain" not in self.model_fields_set:
            self.siwe_domain = local
        return self

    @property
    def local_development(self) -> bool:
        """Development (or the test suite) on this machine only: the environment is not
        production; the API, its public URL and the node are on loopback (a public URL
        elsewhere means a proxy serves it). The public defaults run here and nowhere else."""
        return self.environment is not Environment.production and all(
            host in LOOPBACK_HOSTS
            for host in (
                self.api_host,
                urlparse(self.public_url).hostname,
                urlparse(self.rpc_url).hostname,
            )
        )

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        """Fail closed: outside local development, every public default secret is refused."""
        if self.local_development:
            if "timelock_delay" not in self.model_fields_set:
                self.timelock_delay = 60
            return self
        for name, placeholders in self._public_defaults().items():
            if _normal(getattr(self, name).get_secret_value()) in placeholders:
                raise ValueError(
                    f"CRDA_{name.upper()} is unset or a public development value: set a real "
                    "secret in the environment (public defaults run only in local development: "
                    "CRDA_ENVIRONMENT development or test, CRDA_API_HOST, CRDA_PUBLIC_URL and "
                    "CRDA_RPC_URL on 127.0.0.1, ::1 or localhost)"
                )
        if self.admin_address.lower() == DEVNET_ADMIN_ADDRESS.lower():
            raise ValueError(
                "CRDA_ADMIN_ADDRESS is the public devnet admin: set the address of the admin "
                "key that proposes and executes through the timelock"
            )
        return self

    @classmethod
    def _public_defaults(cls) -> dict[str, frozenset[str]]:
        """Each secret's refused values (normalised)."""
        return {
            "operator_key": _DEVNET_KEYS,
            "issuer_key": _DEVNET_KEYS,
            "relayer_key": _DEVNET_KEYS,
            "session_keys": frozenset({""}),
            "master_key": frozenset({"", _normal(DEV_MASTER_KEY)}),
            "uniqueness_pepper": frozenset({"", _normal(DEV_PEPPER)}),
        }


class AdminSettings(Settings):
    """The settings of `crda admin` only: the admin key, which no other process reads."""

    admin_key: SecretStr = SecretStr(DEVNET_KEYS[9])

    @classmethod
    def _public_defaults(cls) -> dict[str, frozenset[str]]:
        return {**super()._public_defaults(), "admin_key": _DEVNET_KEYS}


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
