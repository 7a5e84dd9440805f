"""The ``myna-rp demo`` command: the SDK against the mock platform, end to end, on one laptop.

Lives outside both packages because it imports both (architecture.md: ``myna_rp`` and ``mock_platform``
never import each other); it plugs into the ``myna-rp`` command through the ``myna_rp.commands`` entry
point group.
"""
