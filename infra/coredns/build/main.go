// The CoreDNS the lab runs on the offline image path: the pinned release, built with only the plugins
// infra/coredns/Corefile names, as CoreDNS's documentation describes for a custom plugin set (an own
// main package importing the plugins it wants, and coremain). Building every plugin CoreDNS ships
// (the Kubernetes client alone is a large share) took most of a cold `make up`.
//
// The plugin order is CoreDNS's own (core/dnsserver's Directives, from its plugin.cfg), so each
// plugin sees requests in exactly the order it would in the upstream binary. A plugin the Corefile
// names but this file does not import makes CoreDNS refuse to start; the integration tests start it.
package main

import (
	"github.com/coredns/coredns/coremain"

	// The plugins infra/coredns/Corefile uses, one line each; keep this list and the Corefile in step.
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	coremain.Run()
}
