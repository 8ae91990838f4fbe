"""How the night is started and watched: the nightly job, its schedule, the landing sensor, freshness checks."""
