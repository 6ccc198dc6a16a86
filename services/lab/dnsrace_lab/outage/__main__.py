import sys

from dnsrace_lab.outage.run import main

sys.exit(main())
