"""Example relying-party services built on ``myna_rp`` (not shipped in the wheel).

* :mod:`examples.age_check` — an age-gated shop (alcohol, minimum age 20) calling ``verify_age()``.
* :mod:`examples.bank_kyc` — account opening (eKYC) with the JPKI signing certificate.
* :mod:`examples._shared` — what both services share (problem documents, settings validators, trust from the
  platform, the walk-throughs' simulated customer); not an API of its own.
"""
