"""``python -m examples.host_site``: serve the example host site on HOST:PORT (127.0.0.1:5001)."""

from examples.host_site.app import main

main()
