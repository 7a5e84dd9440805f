"""myna_rp: the relying-party SDK for the My Number Card (JPKI 公的個人認証, attribute proofs)."""
