import sys

from dnsrace_lab.harness.report.cli import main

sys.exit(main())
