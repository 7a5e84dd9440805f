"""mock_platform: a local stand-in for J-LIS (JPKI CAs, CRLs, OCSP) for tests and demos.

Independent of :mod:`myna_rp` by design: it never imports it, so each side encodes the JPKI profile on its
own and a misreading in one is caught by the other. Synthetic people only.

Entry points:

* :func:`mock_platform.app.create_app` — the FastAPI factory (``myna-mock serve``);
* :class:`mock_platform.ca.service.CAService` — the in-process facade;
* :mod:`mock_platform.ca` — the builders (roots, end-entity certificates, CRLs, OCSP, CMS) and the
  :class:`~mock_platform.ca.token.TokenSimulator`.
"""
