"""The platform operator API (プラットフォーム事業者) of the mock, for relying parties.

See :mod:`mock_platform.platform_api.routes` (HTTP), :mod:`mock_platform.platform_api.service` (logic),
:mod:`mock_platform.platform_api.webhooks` (signed events) and :mod:`mock_platform.platform_api.admin`
(test-mode RP registration). Client authentication lives in :mod:`mock_platform.rp_auth`.
"""
