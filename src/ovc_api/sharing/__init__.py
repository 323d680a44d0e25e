"""The referral record and what an accepted referral shares: the read-model that children,
families, cases and services depend on (the referral workflow and its API, in `referrals`,
sit above them all)."""
