"""Example relying-party services built on ``myna_rp`` (not shipped in the wheel).

* :mod:`examples.age_check` — an age-gated shop (alcohol, minimum age 20) calling ``verify_age()``.
* :mod:`examples.bank_kyc` — account opening (eKYC) with the JPKI signing certificate.
"""
