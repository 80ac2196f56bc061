"""The kernel every surface may use: settings, errors, edge parsing, database pools, events,
logging, health probes, provisioning and authentication. It imports no surface."""
