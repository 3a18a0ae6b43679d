"""The study driver: spec parsing, search spaces, the ask -> Ray -> tell loop and every database
write, plus the read queries the dashboard uses."""
