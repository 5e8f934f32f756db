"""The apiserver's service-account token authority: issuer, audiences, signing key, clock.

One ``TokenAuthority`` per apiserver, built from its configuration (``from_config``), is shared by
the TokenRequest endpoint (serviceaccount_tokens.py, which signs) and the bearer-token
authenticator (sa_authenticator.py, which verifies). Keeping both on the same object is what
guarantees that a token this server hands out is one it accepts.

    --service-account-issuer          ServiceAccountConfig.issuer (default DEFAULT_ISSUER)
    --api-audiences                   ServiceAccountConfig.audiences (default [issuer])
    --service-account-signing-key-file  the key; unset: <data_dir>/pki/sa.key when it exists,
                                        else a key made for this process only (tokens die with it)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from kybernetes.apiserver.sa_claims import DEFAULT_ISSUER
from kybernetes.apiserver.sa_signing import SigningKey, TokenSigner, TokenVerifier
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)


@dataclass
class TokenAuthority:
    key: SigningKey
    issuer: str = DEFAULT_ISSUER
    audiences: tuple[str, ...] = ()
    clock: Clock = field(default_factory=RealClock)
    # Extra issuers whose tokens are still accepted (issuer migration), as --service-account-issuer
    # given more than once.
    accepted_issuers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.audiences:
            self.audiences = (self.issuer,)
        self.signer = TokenSigner(self.key)
        self.verifier = TokenVerifier([self.key.public_key])

    @property
    def issuers(self) -> tuple[str, ...]:
        return (self.issuer, *[i for i in self.accepted_issuers if i != self.issuer])


def load_authority(*, key_file: Path | None, data_dir: Path | None, issuer: str = "",
                   audiences: tuple[str, ...] | list[str] = (), clock: Clock | None = None) -> TokenAuthority:
    """The authority an apiserver with these settings uses (see the module docstring)."""
    path = key_file
    if path is None and data_dir is not None:
        candidate = Path(data_dir) / "pki" / "sa.key"
        if candidate.exists():
            path = candidate
    if path is not None:
        key = SigningKey.from_file(path)
    else:
        log.info("no service-account signing key configured: tokens from this process's own key "
                 "stop working when it exits")
        key = SigningKey.generate()
    return TokenAuthority(key=key, issuer=issuer or DEFAULT_ISSUER, audiences=tuple(audiences),
                          clock=clock or RealClock())
