"""Running mimamori in service: backup and restore of a home, key rotation, the status a monitor reads."""
