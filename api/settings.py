"""One settings object, read from the environment (prefix ``CRDA_``).

Safe local defaults let the embedded setup (SQLite, a devnet on 127.0.0.1) run with no
configuration at all; outside development the well-known devnet keys are refused, so a
production deployment cannot start with a placeholder secret.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The devnet's well-known accounts (Hardhat and anvil derive them from the public mnemonic
# "test test ... junk"). Fine on a devnet, refused anywhere else.
DEVNET_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
)

# Development placeholders of the identity secrets (public, so refused in production).
DEV_MASTER_KEY = "ZGV2LW9ubHktbWFzdGVyLWtleS1kby1ub3QtdXNlISE"  # 32 bytes, base64url
DEV_PEPPER = "dev-only-uniqueness-pepper"


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
    methodology_version: str = "2026.1"
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

    # Operator key: deploys contracts and holds the admin roles.
    operator_key: SecretStr = SecretStr(DEVNET_KEYS[0])
    # Issuer key: the outbox worker that sends issuance batches (ISSUER_ROLE only).
    issuer_key: SecretStr = SecretStr(DEVNET_KEYS[1])
    # Relayer key: pays gas for citizens' forwarded requests.
    relayer_key: SecretStr = SecretStr(DEVNET_KEYS[2])

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
    # Failed password sign-ins per email within the window before sign-in is refused (429).
    sign_in_max_failures: int = Field(default=5, ge=1)
    sign_in_window: int = Field(default=900, ge=1)
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

    @model_validator(mode="after")
    def _local_urls_follow_the_port(self) -> Settings:
        """Unset, the public URL and SIWE domain name the API's own host and port (a local
        run on another port gets QR codes and sign-in messages that point at itself)."""
        local = f"{self.api_host}:{self.api_port}"
        if "public_url" not in self.model_fields_set:
            self.public_url = f"http://{local}"
        if "siwe_domain" not in self.model_fields_set:
            self.siwe_domain = local
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment is Environment.production:
            for name in ("operator_key", "issuer_key", "relayer_key"):
                value: SecretStr = getattr(self, name)
                if value.get_secret_value().lower() in DEVNET_KEYS:
                    raise ValueError(
                        f"CRDA_{name.upper()} is a public devnet key; set a real secret "
                        "in the environment outside development"
                    )
            placeholders = {
                "session_keys": "",
                "master_key": DEV_MASTER_KEY,
                "uniqueness_pepper": DEV_PEPPER,
            }
            for name, placeholder in placeholders.items():
                if getattr(self, name).get_secret_value() == placeholder:
                    raise ValueError(
                        f"CRDA_{name.upper()} is unset or a development placeholder; set a "
                        "real secret in the environment outside development"
                    )
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings`` instead)."""
    return Settings()
