"""Fuzz tests: Hypothesis and Schemathesis against the service on real tiny models, deterministic and bounded."""

from hypothesis import HealthCheck, settings

# The same examples on every run (derandomized, no example database), no deadline (2 shared cores make timings
# noisy); the function-scoped fixtures (a test client, the check that the app still serves) hold no state.
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
