"""Thin HTTP layer over :class:`~mock_platform.ca.service.CAService`.

Each module exposes ``build_router(...) -> APIRouter``; routers close over the service they are given,
so there is no module-level application, router or service object.
"""
