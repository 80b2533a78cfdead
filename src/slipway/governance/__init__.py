"""Layer 3: identity and roles, approvals, policies, fairness, model cards, webhooks."""
