"""EC2's side of the cascade (issue 23): droplets, the lease manager (DWFM) and a launcher.

    droplets       python3 -m dnsrace_ec2.droplets   N physical hosts, each answering an HTTP state check
    dwfm           python3 -m dnsrace_ec2.dwfm       the lease manager: a lease per droplet in the lab's
                                                     DynamoDB, renewed by c workers from one queue
    launcher       python3 -m dnsrace_ec2.launcher   asks for instances at a steady rate; counts what it gets
    lease_policy   the two designs of the queue (legacy, safe) as data and pure functions
    lease_book     the lease manager's state and decisions, pure (no I/O, a clock passed in)
    lease_store    the I/O edge: one lease operation (state check + conditional UpdateItem) with boto3
"""
