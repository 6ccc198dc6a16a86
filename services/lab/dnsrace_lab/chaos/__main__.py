import sys

from dnsrace_lab.chaos.campaign import main

sys.exit(main())
