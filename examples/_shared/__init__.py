"""What the two example services (:mod:`examples.age_check`, :mod:`examples.bank_kyc`) share.

Not a public API: each example re-exports what its users need under its own names.

* :mod:`.problems` — RFC 9457 problem documents and the FastAPI handlers that answer every error with one;
* :mod:`.errors` — :class:`~.errors.ProblemError`, the base of each service's own refusals;
* :mod:`.settings` — validators of the settings both services have (URLs, stores, hex secrets);
* :mod:`.wiring` — the challenge store named by the settings;
* :mod:`.trust` — JPKI roots, OCSP responders and CRL URLs read from a platform shaped like the mock, and the
  mock's test clock;
* :mod:`.encoding` — base64url (RFC 4648 §5) without padding;
* :mod:`.walkthrough` — the simulated customer's card and Android phone (the mock's device simulator).
"""
