"""One rule engine for lint, preflight and doctor: a rule is a pure function from a
snapshot (a manifest, an input inventory, cluster facts, workload evidence) to
violations; the engine adds the rule's identity, severity and remediation."""
